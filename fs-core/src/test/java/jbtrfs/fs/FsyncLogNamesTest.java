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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
 * Fsyncs whose names changed (renames, unlinks, new directories), judged by the kernel: one scenario runs on a
 * kernel loop mount (commit=300, copied while mounted) and on our filesystem over the in-memory device (the power
 * cut without a commit). The kernel's replay of our log must show what its replay of its own log shows (times
 * aside: the two runs differ in time), btrfs check is clean after it, our own replay of our log shows the same as
 * the kernel's replay of it (mtimes to the nanosecond), and none of the scenario's fsyncs fell back to a full commit.
 */
class FsyncLogNamesTest {
    @TempDir
    Path dir;

    @Test
    void ancestorRenamedBetweenFsyncs_parentStaysAtItsCommittedName_asTheKernelLeavesIt() throws Exception {
        // the kernel logs the file alone (a file of the last commit whose own names did not change): its parent's
        // rename is not made durable by the file's fsync, and the replay shows the parent at its committed name
        crashAndCompare("""
                mkdir top
                mkdir top/a
                write top/a/f one
                sync
                write top/a/f two
                fsync top/a/f
                mv top/a top/b
                write top/b/f three
                fsync top/b/f
                """, "/top/a/f");
    }

    @Test
    void hardLinkRemoved_fileFsynced_oldDirectoryLoggedWithTheRemovedIndex() throws Exception {
        crashAndCompare("""
                mkdir a
                write a/f one
                ln a/f l
                ln a/f a/l2
                write gone x
                sync
                rm l
                rm gone
                write a/f two
                fsync a/f
                """, "/a/f", "/a/l2");
    }

    @Test
    void fileRenamedInItsDirectory_fsynced_oldNameGone() throws Exception {
        crashAndCompare("""
                mkdir a
                write a/f one
                write a/other x
                sync
                mv a/f a/g
                write a/g two
                fsync a/g
                """, "/a/g", "/a/other");
    }

    @Test
    void fileRenamedAcrossDirectories_fsynced_loggedWhereTheKernelCommits() throws Exception {
        // the kernel commits at the fsync after a rename across directories; both end with the file at its name then
        crashAndCompare(true, """
                mkdir a
                mkdir b
                write a/f one
                write a/keep x
                sync
                write a/keep y
                fsync a/keep
                mv a/f b/g
                fsync b/g
                """, "/b/g", "/a/keep");
    }

    @Test
    void fileInNewDirectories_fsynced_newAncestorsLogged() throws Exception {
        crashAndCompare("""
                mkdir top
                write top/old x
                sync
                mkdir top/n
                mkdir top/n/m
                mkdir top/n/unlogged
                write top/n/m/f one
                fsync top/n/m/f
                mkdir top/n2
                write top/n2/g two
                ln top/n2/g top/n/m/g2
                fsync top/n2/g
                """, "/top/n/m/f", "/top/n2/g", "/top/n/m/g2");
    }

    @Test
    void newDirectoryRenamedBetweenFsyncs_replayShowsItsNameAtTheLastFsync() throws Exception {
        crashAndCompare("""
                mkdir top
                sync
                mkdir top/n
                write top/n/f one
                fsync top/n/f
                mv top/n top/renamed
                write top/renamed/f two
                fsync top/renamed/f
                mv top/renamed top/later
                """, "/top/renamed/f");
    }

    @Test
    void directoryFsync_unlinksAndNewFiles_logged() throws Exception {
        // the kernel logs a new file named by a directory fsync as existing, empty: its data needs its own fsync
        crashAndCompare("""
                mkdir d
                write d/f1 one
                write d/f2 two
                write d/f3 three
                write d/linked x
                ln d/linked keep
                sync
                rm d/f2
                rm d/linked
                write d/new fresh
                ln d/f3 d/f3-link
                write d/f1 more
                fsync d
                """, "/d/f1", "/d/new", "/d/f3-link", "/keep");
    }

    @Test
    void directoryFsync_fileRenamedIn_namedTwiceAsTheKernelLeavesIt() throws Exception {
        crashAndCompare("""
                mkdir a
                mkdir b
                write a/f one
                sync
                mv a/f b/g
                fsync b
                """, "/a/f", "/b/g");
    }

    @Test
    void directoryFsync_newDirectory_loggedWithItsNewAncestors() throws Exception {
        crashAndCompare("""
                mkdir top
                sync
                mkdir top/n
                mkdir top/n/m
                write top/n/m/f one
                fsync top/n/m
                """, "/top/n/m/f");
    }

    @Test
    void directoryFsync_newSubdirectories_loggedWithTheirEntries() throws Exception {
        crashAndCompare("""
                mkdir d
                write d/old x
                sync
                mkdir d/sub
                mkdir d/sub/deeper
                write d/sub/f one
                write d/sub/deeper/g two
                write d/top three
                fsync d
                """, "/d/sub/f", "/d/sub/deeper/g", "/d/top");
    }

    @Test
    void directoryFsync_removedSubdirectory_logged() throws Exception {
        crashAndCompare("""
                mkdir d
                mkdir d/sub
                mkdir d/sub/deeper
                write d/sub/f one
                write d/sub/linked two
                ln d/sub/linked d/kept-link
                write d/keep x
                sync
                rm d/sub/f
                rm d/sub/linked
                rmdir d/sub/deeper
                rmdir d/sub
                fsync d
                """, "/d/keep", "/d/kept-link");
    }

    @Test
    void directoryFsync_fileMovedOut_commitsAsTheKernelDoes() throws Exception {
        // the replay would unlink the old name while the new one is not in the log: both commit instead
        crashAndCompare(true, Map.of("names", 1L), """
                mkdir a
                mkdir b
                write a/f one
                sync
                mv a/f b/g
                fsync a
                """, "/b/g");
    }

    /** Name changes with an fsync after each, for the power cuts below; the first line's sync is the base. */
    private static final String CUT_SCENARIO = """
            mkdir a
            mkdir b
            write a/f one
            write a/g two
            ln a/g b/g-link
            write a/h three
            write b/x four
            sync
            mv a/f a/f2
            write a/f2 more
            fsync a/f2
            rm b/g-link
            fsync a/g
            mkdir n
            mkdir n/m
            write n/m/new five
            fsync n/m/new
            rm a/h
            write a/i six
            fsync a
            mv b/x a/x
            fsync a
            write n/m/new more
            fsync n/m/new
            mv a/f2 b/f3
            fsync b/f3
            """;

    @Test
    void powerCutAnywhereInNameLogs_kernelReplayShowsLastOrInFlightFsync_checkClean() throws Exception {
        Images.requireKernelBtrfs();
        Path base = Images.mkfs(dir, null, 128);
        List<String[]> steps = steps(CUT_SCENARIO);
        // the clean run: what the kernel's replay shows after each fsync returned is what a cut then may show
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = device(base, FaultPlan.none(), 1);
        Filesystem fs = PowerCuts.openOrNull(clean);
        long baseDone = 0;
        Path image = dir.resolve("state.img");
        for (String[] s : steps) {
            run(fs.operations(), s);
            if (s[0].equals("sync")) baseDone = clean.requestsSubmitted();
            if (s[0].equals("sync") || s[0].equals("fsync")) {
                Files.write(image, clean.snapshot());
                states.add(PowerCuts.withoutTimes(kernelReplay(image)));
            }
        }
        assertEquals(Map.of(), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
        long requests = clean.requestsSubmitted();
        Random rnd = new Random(1925);
        int cuts = Integer.getInteger("jbtrfs.powercuts", 100) / 5;
        for (int i = 0; i < cuts; i++) {
            long n = baseDone + 1 + (long) (rnd.nextDouble() * (requests - baseDone));
            long seed = rnd.nextLong();
            MemoryBlockDevice dev = device(base, FaultPlan.none().failNth(n), seed);
            int done = -1; // fsyncs returned, the base's sync counted as one
            try {
                Filesystem cut = PowerCuts.openOrNull(dev);
                for (String[] s : steps) {
                    run(cut.operations(), s);
                    if (s[0].equals("sync") || s[0].equals("fsync")) done++;
                }
            } catch (Exception e) {
                // the power went at request n: what returned before it must survive
            }
            dev.powerCutTo(image, seed);
            String what = "cut " + i + " at request " + n + " of " + requests + " (seed " + seed + ", " + done
                    + " fsyncs returned)";
            Map<String, String> got = PowerCuts.withoutTimes(kernelReplay(image));
            boolean matches = got.equals(states.get(done)) || (done + 1 < states.size()
                    && got.equals(states.get(done + 1)));
            assertTrue(matches, what + ": the kernel's replay shows neither state " + done + " nor the next: "
                    + TreeListing.differences(states.get(done), got, 5));
            BtrfsCheck.assertCleanWithData(image, what + ", after the kernel's replay");
        }
    }

    /**
     * Runs {@code scenario} (one step a line: mkdir P, write P TEXT (appends), mv P Q, ln P Q, rm P, rmdir P, sync,
     * fsync P) on the kernel and on ours, both cut off after the last step, and compares as the class says; the
     * kernel's replay must show the paths {@code kernelShows} (what the scenario is about).
     */
    private void crashAndCompare(String scenario, String... kernelShows) throws Exception {
        crashAndCompare(false, scenario, kernelShows);
    }

    /** As above; {@code kernelCommits}: the kernel's fsyncs commit (no log) where ours log. */
    private void crashAndCompare(boolean kernelCommits, String scenario, String... kernelShows) throws Exception {
        crashAndCompare(kernelCommits, Map.of(), scenario, kernelShows);
    }

    /** As above, with {@code fallbacks} of ours to a full commit (by why); then no log is asserted. */
    private void crashAndCompare(boolean kernelCommits, Map<String, Long> fallbacks, String scenario,
                                 String... kernelShows) throws Exception {
        CrashImages.require();
        List<String[]> steps = steps(scenario);
        Map<String, String> kernelOwn = kernelReplay(kernelImage(steps, kernelCommits));
        for (String p : kernelShows) assertTrue(kernelOwn.containsKey(p), p + " after the kernel's own replay");

        MemoryBlockDevice dev = device(Images.mkfs(dir, null, 256), FaultPlan.none(), 1);
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
            Path image = Images.mkfs(dir, null, 256);
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
    private Map<String, String> kernelReplay(Path image) throws Exception {
        Path mnt = Files.createTempDirectory(dir, "kernel-replay");
        try {
            return Images.withKernelMount(image, mnt, "", () -> TreeListing.ofMount(mnt));
        } finally {
            Files.delete(mnt);
        }
    }

    private static List<String[]> steps(String scenario) {
        return scenario.lines().map(String::strip).filter(l -> !l.isEmpty()).map(l -> l.split(" ")).toList();
    }

    private static MemoryBlockDevice device(Path image, FaultPlan plan, long seed) throws Exception {
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
            default -> throw new IllegalArgumentException("no step " + s[0]);
        };
    }

    /** One step through our API, as the kernel's shell line does it (root's files, umask 022). */
    private static void run(FsOperations ops, String[] s) throws Exception {
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
