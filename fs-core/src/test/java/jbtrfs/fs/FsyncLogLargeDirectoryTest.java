package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.ReadStats;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.Images;

/**
 * fsyncs of a directory of 20,000 names where a few changed: the log takes the changed names only, read from the
 * leaves this transaction changed (the kernel's log_dir_items skips leaves older than the transaction), and the
 * kernel's replay of our log shows the directory exactly as its replay of its own log does.
 */
class FsyncLogLargeDirectoryTest {
    private static final int NAMES = 20_000;
    /** Tree blocks of the last commit one directory fsync may read: paths to the few changed leaves, not 20,000. */
    private static final long MOST_READS = 60;

    /** A directory of {@link #NAMES} empty files, a file to move in, a directory to move one out to; committed. */
    private static final String LARGE = """
            mkdir d
            mkdir other
            write src one
            many d 20000
            sync
            """;

    @TempDir
    Path dir;

    @Test
    void largeDirectory_addUnlinkRenameEachFsynced_readsFewBlocks_logsNoFallback() throws Exception {
        MemoryBlockDevice dev = FsyncScenarios.device(Images.mkfs(dir, null, 1024), FaultPlan.none(), 1);
        try (Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "d", 0755, 0, 0);
            InodeId other = ops.mkdir(ops.root(), "other", 0755, 0, 0);
            InodeId src = ops.mknod(ops.root(), "src", Stat.S_IFREG | 0644, 0, 0, 0);
            for (int i = 0; i < NAMES; i++) ops.mknod(d, "e" + i, Stat.S_IFREG | 0644, 0, 0, 0);
            ops.sync();
            long commits = fs.commits();
            InodeId added = ops.mknod(d, "added", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(added, 0, ByteBuffer.wrap("new\n".getBytes(StandardCharsets.UTF_8)));
            assertFewReads(fs, ops, d, "a name added");
            ops.unlink(d, "e5000");
            assertFewReads(fs, ops, d, "a name unlinked");
            ops.rename(ops.root(), "src", d, "moved-in", 0);
            assertFewReads(fs, ops, d, "a file renamed in");
            ops.rename(d, "e12000", d, "e12000-renamed", 0);
            assertFewReads(fs, ops, d, "a name renamed within");
            assertEquals(Map.of(), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
            assertEquals(commits, fs.commits(), "commits after the sync");
            // a file moved out: the replay would unlink its old name while its new one is not in the log; the
            // changed leaves alone show the lost index and whose it is, and the fsync commits as the kernel's does
            ops.rename(d, "e17000", other, "e17000", 0);
            ops.fsync(d, false);
            assertEquals(Map.of("names", 1L), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
            assertEquals(commits + 1, fs.commits(), "commits after the sync");
        }
    }

    @Test
    void largeDirectory_addUnlinkRenameEachFsynced_kernelReplaysOurLogAsItsOwn() throws Exception {
        new FsyncScenarios(dir, 1024).crashAndCompare(LARGE + """
                write d/added new
                fsync d
                rm d/e5000
                fsync d
                mv src d/moved-in
                fsync d
                mv d/e12000 d/e12000-renamed
                fsync d
                """, "/d/added", "/d/moved-in", "/d/e12000-renamed", "/d/e19999");
    }

    @Test
    void largeDirectory_fileMovedOutAfterADirectoryFsync_commitsWhereTheKernelLogs_replaysAlike() throws Exception {
        // the kernel logs the move (its directory was logged in this transaction: btrfs_log_new_name logs the new
        // name); ours commits: the file's new name is in a directory this log does not hold
        new FsyncScenarios(dir, 1024).crashAndCompare(true, Map.of("names", 1L), LARGE + """
                rm d/e5000
                fsync d
                mv d/e17000 other/e17000
                fsync d
                """, "/d/e4999", "/other/e17000");
    }

    /** fsyncs {@code d} and asserts it read at most {@link #MOST_READS} tree blocks of the last commit. */
    private static void assertFewReads(Filesystem fs, FsOperations ops, InodeId d, String what) throws Exception {
        long before = reads(fs.stats());
        ops.fsync(d, false);
        long read = reads(fs.stats()) - before;
        assertTrue(read <= MOST_READS, "the fsync after " + what + " read " + read + " tree blocks");
    }

    private static long reads(ReadStats s) {
        return s.treeBlockCacheHits() + s.treeBlockCacheMisses();
    }
}
