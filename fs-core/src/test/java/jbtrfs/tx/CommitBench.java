package jbtrfs.tx;

import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.fs.CommitReport;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;

/**
 * What a commit of many dirty tree blocks costs, stage one (check, checksum, submit) apart (a benchmark command,
 * not a test; it uses only public API, so the same source runs against an older build for comparison):
 * {@code java -cp fuse-adapter/target/jbtrfs.jar fs-core/src/test/java/jbtrfs/tx/CommitBench.java [ROUNDS FILES]}.
 * Each round makes FILES small files (inline data, an xattr) on an in-memory device and commits; the first two
 * rounds warm the JIT and are not summed. The committing thread's CPU time is the figure that other load on the
 * machine disturbs least.
 */
public final class CommitBench {
    private CommitBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int files = args.length > 1 ? Integer.parseInt(args[1]) : 4000;
        Path image = Files.createTempFile("commit-bench", ".img");
        try {
            try (var raf = new RandomAccessFile(image.toFile(), "rw")) {
                raf.setLength(2L << 30);
            }
            Shell.run(List.of("mkfs.btrfs", "-q", "-f", image.toString()));
            MemoryBlockDevice dev = PowerCuts.memoryDevice(image);
            List<CommitReport> stats = new ArrayList<>();
            try (Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
                fs.onCommit(stats::add);
                FsOperations ops = fs.operations();
                byte[] data = new byte[1000];
                long blocks = 0;
                long stage1 = 0;
                long total = 0;
                ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
                for (int r = 0; r < rounds; r++) {
                    InodeId d = ops.mkdir(ops.root(), "r" + r, 0755, 0, 0);
                    for (int i = 0; i < files; i++) {
                        InodeId f = ops.mknod(d, "file-" + i, Stat.S_IFREG | 0644, 0, 0, 0);
                        ops.write(f, 0, ByteBuffer.wrap(data));
                        ops.setXattr(f, "user.bench", new byte[] {(byte) i}, 0);
                    }
                    long c0 = cpu.getCurrentThreadCpuTime();
                    ops.sync();
                    long c1 = cpu.getCurrentThreadCpuTime();
                    CommitReport s = stats.get(stats.size() - 1);
                    int n = s.treeBlocks().count();
                    System.out.printf("round %d: %d tree blocks, stage one %.1f ms, commit %.1f ms wall, %.1f ms CPU "
                            + "(%.1f us a block)%n", r, n, s.treeBlocks().submitNanos() / 1e6, s.nanos() / 1e6,
                            (c1 - c0) / 1e6, (c1 - c0) / 1e3 / n);
                    if (r >= 2) {
                        blocks += n;
                        stage1 += s.treeBlocks().submitNanos();
                        total += c1 - c0;
                    }
                }
                System.out.printf("rounds 2..%d: %d tree blocks, stage one %.1f us a block (wall), commit %.1f us a "
                        + "block (CPU of the committing thread)%n", rounds - 1, blocks, stage1 / 1e3 / blocks,
                        total / 1e3 / blocks);
            }
        } finally {
            Files.deleteIfExists(image);
        }
    }
}
