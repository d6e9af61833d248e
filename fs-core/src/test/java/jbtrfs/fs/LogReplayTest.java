package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
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
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 256, mkfs);
        Path crash = dir.resolve("crash.img");
        Path mnt = Files.createTempDirectory(dir, "kernel");
        Shell.sh("mount -o loop,commit=300" + mountOptions + " " + image + " " + mnt);
        try {
            Shell.sh("set +o pipefail\n" + BASE + script, mnt);
            Shell.sh("cp --sparse=always " + image + " " + crash);
        } finally {
            Shell.sh("umount " + mnt);
        }
        Path kernelCopy = dir.resolve("kernel.img");
        Shell.sh("cp --sparse=always " + crash + " " + kernelCopy);
        Map<String, String> lastCommit;
        // nologreplay: read-only mounts replay the log in memory otherwise
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readOnlyDefaults().withNoLogReplay(true))) {
            assertNotEquals(0, fs.superBlock().logRoot(), "the copy made while mounted has a log tree");
            lastCommit = TreeListing.ofOperations(fs.operations());
        }
        Map<String, String> kernel;
        Shell.sh("mount -o loop " + kernelCopy + " " + mnt);
        try {
            kernel = TreeListing.ofMount(mnt);
        } finally {
            Shell.sh("umount " + mnt);
        }
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
}
