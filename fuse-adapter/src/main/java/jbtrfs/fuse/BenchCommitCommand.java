package jbtrfs.fuse;

import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jbtrfs.device.Backend;
import jbtrfs.fs.CommitReport;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsInfo;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jbtrfs bench-commit}: the commit with the v1 space cache of many dirty block groups, written two-stage
 * (all submitted, then reaped) and serially (submit, wait, next), alternating, on native AIO with O_DIRECT; beside
 * it fio on a file next to the image at QD1 and QD64 with the caches' write size, the ceiling of what queueing
 * can give. The last line is JSON.
 */
@Command(name = "bench-commit", description = "Benchmark the commit's two-stage v1 space cache writeout against "
        + "serial writeout (--file F [--block-groups 64] [--rounds 5]); the last line is JSON.")
final class BenchCommitCommand implements Callable<Integer> {
    private static final long GIB = 1L << 30;

    @Option(names = "--file", required = true, description = "the image file (made when absent; sparse)")
    Path file;

    @Option(names = "--block-groups", defaultValue = "64", description = "data block groups of 1 GiB to dirty")
    int blockGroups;

    @Option(names = "--rounds", defaultValue = "5", description = "commits per mode")
    int rounds;

    @Option(names = "--backend", defaultValue = "aio", description = "aio (O_DIRECT) or nio")
    String backend;

    @Option(names = "--fio-seconds", defaultValue = "10", description = "seconds per fio run (0: no fio)")
    int fioSeconds;

    private final PrintStream out = System.out;

    /** One measured commit. */
    private record Sample(boolean serial, long commitNanos, CommitReport.Writeout caches,
                          CommitReport.Writeout blocks) {
    }

    @Override
    public Integer call() throws Exception {
        if (blockGroups < 1 || rounds < 1) throw new CliException("--block-groups and --rounds must be positive", 2);
        Backend device = Backend.parse(backend);
        prepare();
        List<Sample> samples = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            // alternate which mode goes first, so neither always meets a warmer device
            boolean[] order = r % 2 == 0 ? new boolean[] {true, false} : new boolean[] {false, true};
            for (boolean serial : order) {
                Sample s = commitOnce(device, serial, "commit-" + System.nanoTime());
                samples.add(s);
                out.printf(Locale.ROOT, "round %d %-9s commit %7.1f ms, cache writeout %7.1f ms (submit %.1f, wait "
                                + "%.1f; %d groups, %d KiB, peak %d in flight)%n", r, serial ? "serial" : "two-stage",
                        s.commitNanos / 1e6, (s.caches.submitNanos() + s.caches.waitNanos()) / 1e6,
                        s.caches.submitNanos() / 1e6, s.caches.waitNanos() / 1e6, s.caches.count(),
                        s.caches.bytes() >> 10, s.caches.peakInFlight());
                out.printf(Locale.ROOT, "          tree blocks %d in %.1f ms; the rest (settle, flushes, superblocks) "
                        + "%.1f ms%n", s.blocks.count(), (s.blocks.submitNanos() + s.blocks.waitNanos()) / 1e6,
                        (s.commitNanos - s.caches.submitNanos() - s.caches.waitNanos() - s.blocks.submitNanos()
                                - s.blocks.waitNanos()) / 1e6);
            }
        }
        double serialMs = median(samples, true, false);
        double twoStageMs = median(samples, false, false);
        double serialCacheMs = median(samples, true, true);
        double twoStageCacheMs = median(samples, false, true);
        Sample last = samples.get(samples.size() - 1);
        // the typical cache file: a 1 GiB group's 256 KiB (the average, in whole 4 KiB pages)
        long writeSize = last.caches.count() == 0 ? 256 << 10
                : Math.max(4096, last.caches.bytes() / last.caches.count() / 4096 * 4096);
        double qd1 = fioSeconds > 0 ? fio(1, writeSize) : 0;
        double qd64 = fioSeconds > 0 ? fio(64, writeSize) : 0;
        double speedup = twoStageMs > 0 ? serialMs / twoStageMs : 0;
        out.printf(Locale.ROOT, "%n| | serial | two-stage | ratio |%n|---|---|---|---|%n");
        out.printf(Locale.ROOT, "| commit, median ms | %.1f | %.1f | %.2fx |%n", serialMs, twoStageMs, speedup);
        out.printf(Locale.ROOT, "| cache writeout, median ms | %.1f | %.1f | %.2fx |%n", serialCacheMs,
                twoStageCacheMs, twoStageCacheMs > 0 ? serialCacheMs / twoStageCacheMs : 0);
        if (fioSeconds > 0) {
            out.printf(Locale.ROOT, "| fio randwrite %d KiB, IOPS | QD1 %.0f | QD64 %.0f | %.2fx |%n", writeSize >> 10,
                    qd1, qd64, qd1 > 0 ? qd64 / qd1 : 0);
        }
        out.printf(Locale.ROOT, "{\"block_groups\":%d,\"cache_bytes\":%d,\"serial_ms\":%.1f,\"two_stage_ms\":%.1f,"
                        + "\"speedup\":%.2f,\"serial_cache_ms\":%.1f,\"two_stage_cache_ms\":%.1f,"
                        + "\"fio_qd1_iops\":%.0f,\"fio_qd64_iops\":%.0f}%n", last.caches.count(), last.caches.bytes(),
                serialMs, twoStageMs, speedup, serialCacheMs, twoStageCacheMs, qd1, qd64);
        return 0;
    }

    /** Makes the image when absent: mkfs without the free-space tree, then preallocated files until enough groups. */
    private void prepare() throws Exception {
        if (Files.exists(file) && dataGroups() >= blockGroups) return;
        if (!Files.exists(file)) {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (var f = new RandomAccessFile(file.toFile(), "rw")) {
                // room for the data groups, their metadata and headroom; a sparse file costs nothing
                f.setLength((blockGroups + 8) * GIB);
            }
            run(List.of("mkfs.btrfs", "-q", "-f", "-R", "^free-space-tree", file.toString()));
            out.println("made " + file + " (" + (blockGroups + 8) + " GiB sparse, v1 space cache)");
        }
        try (Filesystem fs = Filesystem.open(file, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            int i = 0;
            while (dataGroups(fs) < blockGroups) {
                var f = ops.mknod(ops.root(), "fill-" + i++, Stat.S_IFREG | 0644, 0, 0, 0);
                // preallocated, never written: data block groups without the data I/O
                ops.fallocate(f, 0, 0, GIB - (16L << 20));
                if (i % 8 == 0) ops.sync();
            }
            ops.sync();
            padFreeSpace(fs);
            out.println("prepared " + dataGroups(fs) + " data block groups of at least 256 MiB");
        }
    }

    /**
     * Writes, then deletes, a file over the groups' free space, so the host file has blocks where the caches will
     * go: otherwise every cache write lands in a hole of the sparse image and the host filesystem allocates under
     * io_submit, which measures ext4's allocator rather than the device.
     */
    private void padFreeSpace(Filesystem fs) throws IOException {
        long free = 0;
        for (FsInfo.BlockGroupSummary s : fs.blockGroups()) {
            if (s.type().equalsIgnoreCase("data")) free += s.totalBytes() - s.usedBytes();
        }
        FsOperations ops = fs.operations();
        var pad = ops.mknod(ops.root(), "pad", Stat.S_IFREG | 0644, 0, 0, 0);
        ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
        // leave a margin: a write past the free space would make a new chunk
        for (long at = 0; at + (64L << 20) < free; at += zeros.capacity()) {
            ops.write(pad, at, zeros.clear());
            if ((at & ((256L << 20) - 1)) == 0) ops.sync();
        }
        ops.unlink(ops.root(), "pad");
        ops.sync();
    }

    private int dataGroups() throws IOException {
        try (Filesystem fs = Filesystem.open(file, MountOptions.readOnlyDefaults())) {
            return dataGroups(fs);
        }
    }

    private static int dataGroups(Filesystem fs) throws IOException {
        // the groups made here are 1 GiB; mkfs's first one is a few MiB and does not count
        for (FsInfo.BlockGroupSummary s : fs.blockGroups()) {
            if (s.type().equalsIgnoreCase("data")) return (int) (s.totalBytes() / GIB);
        }
        return 0;
    }

    /** Opens the image in one mode, dirties every group's cache and one file, and times the second such commit. */
    private Sample commitOnce(Backend device, boolean serial, String name) throws Exception {
        MountOptions mo = MountOptions.readWriteDefaults().withCommitSeconds(0).withDeviceBackend(device)
                .withSerialWriteout(serial);
        try (Filesystem fs = Filesystem.open(file, mo)) {
            CommitReport[] last = new CommitReport[1];
            fs.onCommit(s -> last[0] = s);
            FsOperations ops = fs.operations();
            // the first commit of a mount also sets up its buffers: warm up, then measure the second
            for (String n : new String[] {name + "-warm-up", name}) {
                fs.markSpaceCachesStale();
                ops.mknod(ops.root(), n, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.sync();
            }
            if (last[0] == null || last[0].spaceCaches() == null) {
                throw new CliException("the commit wrote no cache", 1);
            }
            return new Sample(serial, last[0].nanos(), last[0].spaceCaches(), last[0].treeBlocks());
        }
    }

    private static double median(List<Sample> samples, boolean serial, boolean cacheOnly) {
        List<Double> ms = new ArrayList<>();
        for (Sample s : samples) {
            if (s.serial != serial) continue;
            ms.add((cacheOnly ? s.caches.submitNanos() + s.caches.waitNanos() : s.commitNanos) / 1e6);
        }
        Collections.sort(ms);
        int n = ms.size();
        return n % 2 == 1 ? ms.get(n / 2) : (ms.get(n / 2 - 1) + ms.get(n / 2)) / 2;
    }

    /** fio random writes of {@code bs} bytes at queue depth {@code qd} on a file beside the image; write IOPS. */
    private double fio(int qd, long bs) throws Exception {
        Path target = file.resolveSibling(file.getFileName() + ".fio");
        try {
            String json = run(List.of("fio", "--name=qd" + qd, "--filename=" + target, "--size=2G",
                    "--rw=randwrite", "--bs=" + bs, "--direct=1", "--ioengine=libaio", "--iodepth=" + qd,
                    "--runtime=" + fioSeconds, "--time_based", "--output-format=json"));
            Matcher m = Pattern.compile("\"write\"\\s*:\\s*\\{[^}]*?\"iops\"\\s*:\\s*([0-9.]+)", Pattern.DOTALL)
                    .matcher(json);
            if (!m.find()) throw new CliException("cannot read fio's write IOPS", 1);
            return Double.parseDouble(m.group(1));
        } finally {
            Files.deleteIfExists(target);
        }
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new CliException(cmd.get(0) + " failed: " + text.strip(), 1);
        }
        return text;
    }
}
