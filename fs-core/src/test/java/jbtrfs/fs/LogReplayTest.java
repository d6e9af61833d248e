package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.CrashImages;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Images the kernel left with a log tree (fsyncs after the last commit, copied while still mounted: a power cut):
 * our read-write open replays the log and shows what the kernel shows after its own replay, every attribute and
 * byte; btrfs check is clean afterwards and the superblock has log_root 0.
 */
class LogReplayTest {
    /** Writes a base, commits it, then changes it with fsyncs only (commit=300 keeps the commit away). */
    private static final String BASE = """
            mkdir -p d e
            printf 'old file\\n' > d/old
            head -c 20000 /dev/urandom > d/grows
            head -c 300000 /dev/urandom > d/big
            sync
            """;

    @TempDir
    Path dir;

    @Test
    void newFilesAndAppends_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                printf 'small inline file' > d/small && sync d/small
                head -c 70000 /dev/urandom > d/new && sync d/new
                head -c 5000 /dev/urandom >> d/grows && sync d/grows
                head -c 9000 /dev/urandom >> d/old && sync -d d/old
                """);
    }

    @Test
    void overwritesAndTruncation_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                dd if=/dev/urandom of=d/big bs=4096 seek=10 count=5 conv=notrunc status=none && sync d/big
                truncate -s 8192 d/grows && sync d/grows
                """);
    }

    @Test
    void renamesAcrossDirectories_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                mv d/old e/moved && sync e/moved
                sync  # what the kernel's fsync of a renamed file did already: a full commit
                mv d/big e/big2 && sync e
                """);
    }

    @Test
    void unlinksWithDirectoryFsync_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                rm d/old && printf x > d/other && sync d/other && sync d
                """);
    }

    @Test
    void hardLinks_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                ln d/grows e/link1 && ln d/grows d/link2 && sync d/grows
                """);
    }

    @Test
    void xattrs_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                setfattr -n user.a -v one d/old && setfattr -n user.b -v two d/old && sync d/old
                setfattr -n user.kept -v 1 d/grows && sync
                setfattr -x user.kept d/grows && setfattr -n user.new -v 2 d/grows && sync d/grows
                """);
    }

    @Test
    void preallocatedExtentsWritten_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                fallocate -l 1M d/pre && sync
                dd if=/dev/urandom of=d/pre bs=4096 seek=3 count=4 conv=notrunc status=none && sync d/pre
                fallocate -l 256K d/pre2 && dd if=/dev/urandom of=d/pre2 bs=4096 count=2 conv=notrunc status=none
                sync d/pre2
                """);
    }

    @Test
    void newSubvolumeContents_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                btrfs -q subvolume create sv && sync
                mkdir sv/dir && head -c 50000 /dev/urandom > sv/dir/f && sync sv/dir/f
                printf 'top level too' > d/top && sync d/top
                """);
    }

    @Test
    void manyFdatasyncsOfOneFile_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                for i in $(seq 1 40); do head -c 3000 /dev/urandom >> d/grows; sync -d d/grows; done
                """);
    }

    @Test
    void v1SpaceCache_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare(new String[] {"-R", "^free-space-tree"}, ",space_cache=v1", """
                head -c 70000 /dev/urandom > d/new && sync d/new
                head -c 5000 /dev/urandom >> d/grows && sync d/grows
                """);
    }

    @Test
    void newDirectoriesSymlinksAndSpecialFiles_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                mkdir -p d/n1/n2 && head -c 9000 /dev/urandom > d/n1/n2/deep && sync d/n1/n2/deep
                ln -s ../old d/n1/sym && mkfifo d/n1/fifo && mknod d/n1/chr c 1 3 && sync d/n1
                """);
    }

    @Test
    void sparseWritesWithoutNoHoles_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare(new String[] {"-O", "^no-holes"}, "", """
                dd if=/dev/urandom of=d/sparse bs=4096 seek=20 count=2 status=none && sync d/sparse
                dd if=/dev/urandom of=d/grows bs=4096 seek=40 count=1 conv=notrunc status=none && sync d/grows
                """);
    }

    @Test
    void topDirectoryFsynced_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                printf top > top && sync top && mkdir top-dir && sync .
                """);
    }

    @Test
    void reflinkedCopy_addsReferencesToCommittedExtents() throws Exception {
        crashAndCompare("""
                cp --reflink=always d/big d/clone && sync d/clone
                """);
    }

    @Test
    void compressedExtents_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare(",compress-force=zstd", """
                yes compressible | head -c 200000 > d/z && sync d/z
                yes more | head -c 50000 >> d/grows && sync d/grows
                """);
    }

    @Test
    void logOfManyLeaves_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                for i in $(seq 1 400); do head -c 1500 /dev/urandom > d/file-with-a-longer-name-$i; done
                sync d/file-with-a-longer-name-*
                """);
    }

    @Test
    void fsyncedFileUnlinkedBeforeDirectoryFsync_isGone() throws Exception {
        crashAndCompare("""
                head -c 10000 /dev/urandom > d/short && sync d/short
                rm d/short && sync d
                """);
    }

    @Test
    void renameOverAnExistingName_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                printf replacement > d/tmp && sync d/tmp
                mv d/tmp d/old && sync d/old && sync d
                """);
    }

    @Test
    void removedSubdirectory_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                mkdir d/sub && printf x > d/sub/x && sync
                rm -r d/sub && printf y > d/y && sync d/y && sync d
                """);
    }

    @Test
    void inlineFileGrownPastInline_replayedAsTheKernelDoes() throws Exception {
        crashAndCompare("""
                head -c 30000 /dev/urandom >> d/old && sync d/old
                """);
    }

    @Test
    void powerCutInTheReplaysCommit_logStillReplaysOrReplayIsCommitted() throws Exception {
        Path crash = crashImage(new String[0], "", """
                head -c 70000 /dev/urandom > d/new && sync d/new
                mv d/old e/moved && head -c 5000 /dev/urandom >> e/moved && sync e/moved
                sync  # what the kernel's fsync of a renamed file did already: a full commit
                for i in $(seq 1 60); do head -c 900 /dev/urandom > e/f$i; done; sync e/f*
                """);
        Map<String, String> kernel = CrashImages.kernelReplayed(crash, dir);
        // the replay's commit writes no tree block where a log block lies (they are pinned until it is on disk)
        Set<Long> logBlocks = logTreeBlocks(crash);
        Path replayed = dir.resolve("replayed.img");
        Shell.sh("cp --sparse=always " + crash + " " + replayed);
        try (Filesystem fs = Filesystem.open(replayed, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            assertEquals(logBlocks.size(), fs.logReplay().logBlocks(), "log blocks kept out of the free space");
        }
        Set<Long> written = treeBlocks(Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", replayed.toString())));
        written.retainAll(logBlocks);
        assertEquals(Set.of(), written, "tree blocks of the replayed image on the log's " + logBlocks.size());

        MemoryBlockDevice clean = PowerCuts.memoryDevice(crash)
                .recordRequests();
        Filesystem.open(clean, MountOptions.readWriteDefaults().withCommitSeconds(0)).close();
        long requests = clean.requestsSubmitted();
        long firstWrite = clean.submittedRequests().stream().filter(r -> r.op() == IoRequest.Op.WRITE)
                .mapToLong(MemoryBlockDevice.Submitted::seq).min().orElseThrow();
        Path cut = dir.resolve("cut.img");
        int cuts = 4;
        for (int i = 0; i < cuts; i++) {
            // spread over the replay commit's requests: its tree blocks go where the log's blocks must not be
            long n = firstWrite + (requests - firstWrite) * i / cuts;
            MemoryBlockDevice dev = MemoryBlockDevice.create(crash, 64, FaultPlan.none().failFromNth(n), i,
                    new SimpleMeterRegistry());
            // the open (replay and commit) either finished or was cut; a cut one is null
            Filesystem fs = PowerCuts.openOrNull(dev);
            assertEquals(null, fs, "the open ends inside the cut's request range");
            dev.powerCutTo(cut, i);
            String what = "cut at request " + n + " of " + requests;
            assertEquals(List.of(), TreeListing.differences(kernel, CrashImages.kernelReplayed(cut, dir), 10), what);
            BtrfsCheck.assertCleanWithData(cut, what + ", after the kernel's mount");
        }
    }

    private static final Pattern BLOCK = Pattern.compile("^(?:leaf|node) (\\d+) ", Pattern.MULTILINE);
    private static final Pattern ROOT_BYTENR = Pattern.compile(" bytenr (\\d+) byte_limit ");

    /** Every block of the log root tree of {@code image} and of the log trees its root items name. */
    private static Set<Long> logTreeBlocks(Path image) throws Exception {
        String sb = Shell.run(List.of("btrfs", "inspect-internal", "dump-super", image.toString()));
        Matcher m = Pattern.compile("(?m)^log_root\\s+(\\d+)$").matcher(sb);
        assertTrue(m.find(), sb);
        String logRoot = dumpFollowing(image, Long.parseLong(m.group(1)));
        Set<Long> out = treeBlocks(logRoot);
        Matcher roots = ROOT_BYTENR.matcher(logRoot);
        while (roots.find()) out.addAll(treeBlocks(dumpFollowing(image, Long.parseLong(roots.group(1)))));
        return out;
    }

    private static String dumpFollowing(Path image, long bytenr) throws Exception {
        return Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-b", Long.toString(bytenr), "--follow",
                image.toString()));
    }

    /** The addresses of the leaves and nodes a dump-tree output prints. */
    private static Set<Long> treeBlocks(String dump) {
        Set<Long> out = new HashSet<>();
        Matcher m = BLOCK.matcher(dump);
        while (m.find()) out.add(Long.parseLong(m.group(1)));
        return out;
    }

    /**
     * Runs {@code script} after {@link #BASE} on a kernel mount and copies the image while mounted; the kernel's
     * replay of one copy and ours of the other must agree.
     */
    private void crashAndCompare(String script) throws Exception {
        crashAndCompare("", script);
    }

    /** As above, the kernel mounting with {@code mountOptions} (each led by a comma) too. */
    private void crashAndCompare(String mountOptions, String script) throws Exception {
        crashAndCompare(new String[0], mountOptions, script);
    }

    /** As above, on an image made with mkfs options {@code mkfs}. */
    private void crashAndCompare(String[] mkfs, String mountOptions, String script) throws Exception {
        Path crash = crashImage(mkfs, mountOptions, script);
        Map<String, String> lastCommit;
        // nologreplay: read-only mounts replay the log in memory otherwise
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readOnlyDefaults().withNoLogReplay(true))) {
            assertNotEquals(0, fs.superBlock().logRoot(), "the copy made while mounted has a log tree");
            lastCommit = TreeListing.ofOperations(fs.operations());
        }
        Map<String, String> kernel = CrashImages.kernelReplayed(crash, dir);
        assertNotEquals(List.of(), TreeListing.differences(kernel, lastCommit, 1),
                "the kernel's replay changes what the last commit shows");

        Map<String, String> ours;
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            ours = TreeListing.ofOperations(fs.operations());
        }
        assertEquals(List.of(), TreeListing.differences(kernel, ours, 10));
        BtrfsCheck.assertCleanWithData(crash, "after our replay");
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readOnlyDefaults())) {
            assertEquals(0, fs.superBlock().logRoot(), "log_root after our replay's commit");
            assertEquals(0, fs.superBlock().logRootLevel(), "log_root_level after our replay's commit");
            assertEquals(ours, TreeListing.ofOperations(fs.operations()), "what the replay committed");
        }
    }

    /**
     * A power cut image: {@link #BASE} then {@code script} on a kernel mount (commit=300, with {@code mountOptions}),
     * the image copied while still mounted, and no commit after the base's sync.
     */
    private Path crashImage(String[] mkfs, String mountOptions, String script) throws Exception {
        return CrashImages.kernelCrashed(dir, 256, mkfs, mountOptions, "set +o pipefail\n" + BASE + script);
    }
}
