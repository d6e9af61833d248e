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
    void fileRenamedOntoAnExistingName_fsynced_replayUnlinksTheReplacedFile() throws Exception {
        // the kernel logs nothing of a replaced file that has no name left: its replay unlinks the name's old owner
        crashAndCompare("""
                mkdir a
                write a/f one
                write a/g replaced
                write a/e three
                bulk a/h 300000
                write a/other x
                sync
                mv a/f a/g
                write a/g two
                fsync a/g
                mv a/e a/h
                fsync a/h
                """, "/a/g", "/a/h", "/a/other");
    }

    @Test
    void replacedFileKeepsAHardLink_newFileFsynced_replacedOneLoggedAsConflicting() throws Exception {
        // the kernel logs the replaced file as existing with its refs (log_conflicting_inodes): the replay unlinks
        // its taken name and keeps the others, in the same directory and in another
        crashAndCompare("""
                mkdir d
                mkdir e
                write d/f old
                ln d/f d/keep
                write d/g other
                ln d/g e/keep-g
                sync
                write d/f.tmp new
                mv d/f.tmp d/f
                fsync d/f
                write d/g.tmp newer
                mv d/g.tmp d/g
                fsync d/g
                """, "/d/f", "/d/keep", "/d/g", "/e/keep-g");
    }

    @Test
    void replacedFileRenamedAway_newFileTakesItsName_fsynced_replayShowsBoth() throws Exception {
        // the old file's new name replays through its logged refs, as the kernel logs the conflicting inode
        crashAndCompare("""
                mkdir d
                write d/f old
                sync
                mv d/f d/kept
                write d/f new
                fsync d/f
                """, "/d/f", "/d/kept");
    }

    @Test
    void fileRenamedAcrossDirectoriesOntoAnExistingName_fsynced_loggedWhereTheKernelCommits() throws Exception {
        crashAndCompare(true, """
                mkdir a
                mkdir b
                write a/f one
                write b/g replaced
                write b/keep x
                sync
                mv a/f b/g
                fsync b/g
                """, "/b/g", "/b/keep");
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
    void directoryRenamedInItsParent_fsynced_loggedWithItsNewName() throws Exception {
        crashAndCompare("""
                mkdir d
                mkdir d/a
                mkdir d/a/inner
                write d/a/inner/f x
                write d/a/g y
                sync
                mv d/a d/b
                write d/b/new z
                fsync d/b
                """, "/d/b/g", "/d/b/new", "/d/b/inner/f");
    }

    @Test
    void newFileInARenamedDirectory_fsynced_loggedAsTheKernelLogsIt() throws Exception {
        crashAndCompare("""
                mkdir d
                mkdir d/a
                mkdir e
                mkdir e/m
                write d/a/g y
                write e/m/h z
                sync
                mv d/a d/b
                write d/b/new one
                fsync d/b/new
                mv e/m d/m
                write d/m/new2 two
                fsync d/m/new2
                """, "/d/a/new", "/e/m/new2");
    }

    /** An atomic replace: a temporary file written, fsynced and renamed over a file of the last commit. */
    private static final String ATOMIC_REPLACE = """
            mkdir d
            write d/f old
            write d/keep x
            sync
            write d/f.tmp new
            fsync d/f.tmp
            mv d/f.tmp d/f
            """;

    @Test
    void atomicReplace_tempFsyncedRenamedOverDirectoryFsynced_tempRefsLoggedAgain() throws Exception {
        // the temporary file's log holds its old name (the kernel moves it at the rename: btrfs_log_new_name); a
        // directory fsync logging only the new index left both replays with f.tmp and no f
        crashAndCompare(ATOMIC_REPLACE + "fsync d\nwrite d/f more\nfsync d/f\n", "/d/f", "/d/keep");
    }

    @Test
    void atomicReplace_tempFsyncedRenamedOverFileFsynced_loggedWithTheReplacedFileUnlinked() throws Exception {
        crashAndCompare(ATOMIC_REPLACE + "fsync d/f\n", "/d/f", "/d/keep");
    }

    @Test
    void directoryMovedToAnotherParent_fsynced_commitsAsTheKernelDoes() throws Exception {
        crashAndCompare(true, Map.of("names", 1L), """
                mkdir a
                mkdir a/sub
                mkdir b
                write a/sub/g y
                sync
                mv a/sub b/sub
                fsync b/sub
                """, "/b/sub/g");
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
        List<String[]> steps = FsyncScenarios.steps(CUT_SCENARIO);
        // the clean run: what the kernel's replay shows after each fsync returned is what a cut then may show
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = FsyncScenarios.device(base, FaultPlan.none(), 1);
        Filesystem fs = PowerCuts.openOrNull(clean);
        long baseDone = 0;
        Path image = dir.resolve("state.img");
        for (String[] s : steps) {
            FsyncScenarios.run(fs.operations(), s);
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
            MemoryBlockDevice dev = FsyncScenarios.device(base, FaultPlan.none().failNth(n), seed);
            int done = -1; // fsyncs returned, the base's sync counted as one
            try {
                Filesystem cut = PowerCuts.openOrNull(dev);
                for (String[] s : steps) {
                    FsyncScenarios.run(cut.operations(), s);
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

    private void crashAndCompare(String scenario, String... kernelShows) throws Exception {
        new FsyncScenarios(dir).crashAndCompare(scenario, kernelShows);
    }

    private void crashAndCompare(boolean kernelCommits, String scenario, String... kernelShows) throws Exception {
        new FsyncScenarios(dir).crashAndCompare(kernelCommits, scenario, kernelShows);
    }

    private void crashAndCompare(boolean kernelCommits, Map<String, Long> fallbacks, String scenario,
                                 String... kernelShows) throws Exception {
        new FsyncScenarios(dir).crashAndCompare(kernelCommits, fallbacks, scenario, kernelShows);
    }

    private Map<String, String> kernelReplay(Path image) throws Exception {
        return new FsyncScenarios(dir).kernelReplay(image);
    }
}
