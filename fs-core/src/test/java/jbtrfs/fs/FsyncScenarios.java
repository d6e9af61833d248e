package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.FsException;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.CrashImages;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * One fsync scenario run on a kernel loop mount (commit=300, copied while mounted) and on our filesystem over the
 * in-memory device (the power cut without a commit), compared as {@link FsyncLogNamesTest} says; the fsync log
 * tests share it.
 */
final class FsyncScenarios {
    private final Path dir;
    /** The size of the images made. */
    private final int sizeMiB;

    FsyncScenarios(Path dir) {
        this(dir, 256);
    }

    /** On images of {@code sizeMiB}: the kernel commits early under metadata pressure on small ones. */
    FsyncScenarios(Path dir, int sizeMiB) {
        this.dir = dir;
        this.sizeMiB = sizeMiB;
    }

    /**
     * Runs {@code scenario} (one step a line: mkdir P, write P TEXT (appends), bulk P BYTES (a new file of BYTES
     * x's), many P N (empty files P/e0 to P/e{N-1}), xattrs P N (user.a0=v0 to user.a{N-1}), mv P Q, ln P Q, rm P, rmdir P, sync, fsync P, symlink P TARGET,
     * mkfifo P, chrdev P (1:3), sock P) on the kernel and on ours, both cut off after the last step, and compares as
     * {@link FsyncLogNamesTest} says; the kernel's replay must show the paths {@code kernelShows}.
     */
    void crashAndCompare(String scenario, String... kernelShows) throws Exception {
        crashAndCompare(false, scenario, kernelShows);
    }

    /** As above; {@code kernelCommits}: the kernel's fsyncs commit (no log) where ours log. */
    void crashAndCompare(boolean kernelCommits, String scenario, String... kernelShows) throws Exception {
        crashAndCompare(kernelCommits, Map.of(), scenario, kernelShows);
    }

    /** As above, with {@code fallbacks} of ours to a full commit (by why); then no log is asserted. */
    void crashAndCompare(boolean kernelCommits, Map<String, Long> fallbacks, String scenario,
                                 String... kernelShows) throws Exception {
        CrashImages.require();
        List<String[]> steps = steps(scenario);
        Map<String, String> kernelOwn = kernelReplay(kernelImage(steps, kernelCommits));
        for (String p : kernelShows) assertTrue(kernelOwn.containsKey(p), p + " after the kernel's own replay");

        MemoryBlockDevice dev = device(Images.mkfs(dir, null, sizeMiB), FaultPlan.none(), 1);
        Filesystem fs = PowerCuts.openOrNull(dev);
        long commits = 0;
        for (String[] s : steps) {
            run(fs.operations(), s);
            if (s[0].equals("sync")) commits = fs.commits(); // the fsyncs after the last sync must not commit
        }
        assertEquals(fallbacks, fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
        assertEquals(commits + fallbacks.values().stream().mapToLong(Long::longValue).sum(), fs.commits(),
                "commits after the last sync");
        Path cut = dir.resolve("cut.img");
        dev.powerCutTo(cut, 19);
        if (fallbacks.isEmpty()) assertNotEquals(0L, CrashImages.logRoot(cut), "our fsyncs left a log");

        Map<String, String> ours;
        Path copy = dir.resolve("ours-replayed.img");
        Files.copy(cut, copy);
        try (Filesystem replayed = Filesystem.open(copy, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            ours = TreeListing.ofOperations(replayed.operations());
        }
        Map<String, String> kernelOfOurs = kernelReplay(cut);
        assertEquals(List.of(), TreeListing.differences(PowerCuts.withoutTimes(kernelOwn),
                PowerCuts.withoutTimes(kernelOfOurs), 10), "the kernel's replay of our log against of its own");
        BtrfsCheck.assertCleanWithData(cut, "after the kernel replayed our log");
        // each replay stamps the ctime of an inode it unlinks a name of with its own time, as the kernel's unlink does
        assertEquals(List.of(), TreeListing.differences(withoutCtime(kernelOfOurs), withoutCtime(ours), 10),
                "our replay of our log against the kernel's");
        BtrfsCheck.assertCleanWithData(copy, "after our replay of our log");
    }

    /**
     * The image the kernel leaves after {@code steps} on a loop mount with commit=300, copied while mounted (a power
     * cut). Unless {@code kernelCommits}, every fsync after the sync must have logged: now and then (more often under
     * load) the kernel commits at an fsync instead, which makes more durable than the log would; then a fresh try.
     */
    private Path kernelImage(List<String[]> steps, boolean kernelCommits) throws Exception {
        CrashImages.require();
        int sync = 0;
        while (!steps.get(sync)[0].equals("sync")) sync++;
        StringBuilder base = new StringBuilder();
        StringBuilder fsyncs = new StringBuilder();
        for (int i = 0; i < steps.size(); i++) (i <= sync ? base : fsyncs).append(shell(steps.get(i))).append('\n');
        Path crash = dir.resolve("kernel-crash.img");
        for (int attempt = 0; attempt < 3; attempt++) {
            Path image = Images.mkfs(dir, null, sizeMiB);
            Path mnt = Files.createTempDirectory(dir, "kernel");
            long synced = Images.withKernelMount(image, mnt, "commit=300", () -> {
                Shell.sh(base.toString(), mnt);
                long generation = generation(image);
                Shell.sh(fsyncs.toString(), mnt);
                Shell.run(List.of("cp", "--sparse=always", image.toString(), crash.toString()));
                return generation;
            });
            Files.delete(mnt);
            Files.delete(image);
            if (kernelCommits || generation(crash) == synced) return crash;
        }
        throw new IllegalStateException("the kernel committed at an fsync in 3 tries: no log to compare with");
    }

    /** The generation in the primary superblock of {@code image}. */
    private static long generation(Path image) throws Exception {
        try (FileChannel ch = FileChannel.open(image)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, SuperBlock.MIRROR_OFFSETS[0] + SuperBlock.OFFSET_GENERATION);
            return b.getLong(0);
        }
    }

    /** What the kernel shows of {@code image} after its read-write mount replayed the log (the image is changed). */
    Map<String, String> kernelReplay(Path image) throws Exception {
        Path mnt = Files.createTempDirectory(dir, "kernel-replay");
        try {
            return Images.withKernelMount(image, mnt, "", () -> TreeListing.ofMount(mnt));
        } finally {
            Files.delete(mnt);
        }
    }

    static List<String[]> steps(String scenario) {
        return scenario.lines().map(String::strip).filter(l -> !l.isEmpty()).map(l -> l.split(" ")).toList();
    }

    static MemoryBlockDevice device(Path image, FaultPlan plan, long seed) throws Exception {
        return MemoryBlockDevice.create(image, 64, plan, seed, new SimpleMeterRegistry());
    }

    private static Map<String, String> withoutCtime(Map<String, String> listing) {
        Map<String, String> out = new TreeMap<>();
        listing.forEach((k, v) -> out.put(k, v.replaceAll(" ctime=\\d+", "")));
        return out;
    }

    private static String shell(String[] s) {
        return switch (s[0]) {
            case "mkdir", "rm", "rmdir" -> s[0] + " " + s[1];
            case "write" -> "printf '%s\\n' " + s[2] + " >> " + s[1];
            case "mv" -> "mv -T " + s[1] + " " + s[2];
            case "ln" -> "ln " + s[1] + " " + s[2];
            case "sync" -> "sync";
            case "fsync" -> "xfs_io -c fsync " + s[1];
            case "bulk" -> "head -c " + s[2] + " /dev/zero | tr '\\0' x >> " + s[1];
            case "many" -> "(cd " + s[1] + " && seq -f e%.0f 0 " + (Integer.parseInt(s[2]) - 1) + " | xargs touch)";
            case "xattrs" -> "python3 -c \"import os; [os.setxattr('" + s[1] + "', 'user.a%d' % i, b'v%d' % i) "
                    + "for i in range(" + s[2] + ")]\"";
            case "symlink" -> "ln -s " + s[2] + " " + s[1];
            case "mkfifo" -> "mkfifo " + s[1];
            case "chrdev" -> "mknod " + s[1] + " c 1 3";
            case "sock" -> "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"" + s[1] + "\")'";
            default -> throw new IllegalArgumentException("no step " + s[0]);
        };
    }

    /** One step through our API, as the kernel's shell line does it (root's files, umask 022). */
    static void run(FsOperations ops, String[] s) throws Exception {
        switch (s[0]) {
            case "mkdir" -> ops.mkdir(parent(ops, s[1]), name(s[1]), 0755, 0, 0);
            case "write" -> {
                InodeId f;
                try {
                    f = ops.resolve(s[1]);
                } catch (FsException e) {
                    f = ops.mknod(parent(ops, s[1]), name(s[1]), Stat.S_IFREG | 0644, 0, 0, 0);
                }
                ops.write(f, ops.stat(f).size(), ByteBuffer.wrap((s[2] + "\n").getBytes(StandardCharsets.UTF_8)));
            }
            case "mv" -> ops.rename(parent(ops, s[1]), name(s[1]), parent(ops, s[2]), name(s[2]), 0);
            case "ln" -> ops.link(ops.resolve(s[1]), parent(ops, s[2]), name(s[2]));
            case "rm" -> ops.unlink(parent(ops, s[1]), name(s[1]));
            case "rmdir" -> ops.rmdir(parent(ops, s[1]), name(s[1]));
            case "fsync" -> ops.fsync(ops.resolve(s[1]), false);
            case "sync" -> ops.sync();
            case "bulk" -> {
                InodeId f = ops.mknod(parent(ops, s[1]), name(s[1]), Stat.S_IFREG | 0644, 0, 0, 0);
                byte[] b = "x".repeat(Integer.parseInt(s[2])).getBytes(StandardCharsets.UTF_8);
                ops.write(f, 0, ByteBuffer.wrap(b));
            }
            case "many" -> {
                InodeId d = ops.resolve(s[1]);
                for (int i = 0; i < Integer.parseInt(s[2]); i++) ops.mknod(d, "e" + i, Stat.S_IFREG | 0644, 0, 0, 0);
            }
            case "xattrs" -> {
                InodeId f = ops.resolve(s[1]);
                for (int i = 0; i < Integer.parseInt(s[2]); i++) {
                    ops.setXattr(f, "user.a" + i, ("v" + i).getBytes(StandardCharsets.UTF_8), 0);
                }
            }
            case "symlink" -> ops.symlink(parent(ops, s[1]), name(s[1]), s[2], 0, 0);
            case "mkfifo" -> ops.mknod(parent(ops, s[1]), name(s[1]), Stat.S_IFIFO | 0644, 0, 0, 0);
            case "chrdev" -> ops.mknod(parent(ops, s[1]), name(s[1]), Stat.S_IFCHR | 0644, 0x103, 0, 0);
            case "sock" -> ops.mknod(parent(ops, s[1]), name(s[1]), Stat.S_IFSOCK | 0755, 0, 0, 0);
            default -> throw new IllegalArgumentException("no step " + s[0]);
        }
    }

    private static InodeId parent(FsOperations ops, String path) throws Exception {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? ops.root() : ops.resolve(path.substring(0, slash));
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }
}
