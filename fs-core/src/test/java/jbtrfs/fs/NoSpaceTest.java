package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.TreeListing;

/** A full filesystem answers ENOSPC, loses nothing, and takes writes again once files are deleted. */
class NoSpaceTest {
    @TempDir
    Path dir;

    @Test
    void fillToNoSpace_deleteAndWriteAgain_checkClean() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId root = ops.root();
            byte[] chunk = new byte[1 << 20];
            Arrays.fill(chunk, (byte) 7);
            int files = 0;
            long written = 0;
            boolean full = false;
            while (!full && files < 1000) {
                InodeId f = ops.mknod(root, "f" + files, Stat.S_IFREG | 0644, 0, 0, 0);
                files++;
                for (int mb = 0; mb < 8; mb++) {
                    try {
                        ops.write(f, (long) mb << 20, ByteBuffer.wrap(chunk));
                        written += chunk.length;
                    } catch (FsException e) {
                        if (e.errno() != Errno.ENOSPC) throw e;
                        full = true;
                        break;
                    }
                }
            }
            assertTrue(full, "never ran out of space");
            // the kernel fits 79 MiB of data on a fresh 160 MiB image (metadata DUP takes 64 MiB of it)
            assertTrue(written >= (75L << 20), "filled after only " + written + " bytes");
            StatFs st = ops.statfs();
            assertTrue(st.blocksAvailable() * st.blockSize() < (8L << 20), "statfs still shows " + st.blocksAvailable() + " blocks free");
            assertErrno(Errno.ENOSPC, () -> ops.fallocate(ops.lookup(root, "f0"), 0, 64L << 20, 64L << 20));
            ops.sync();
            for (int i = 0; i < files / 2; i++) ops.unlink(root, "f" + i);
            InodeId again = ops.mknod(root, "again", Stat.S_IFREG | 0644, 0, 0, 0);
            for (int mb = 0; mb < 16; mb++) ops.write(again, (long) mb << 20, ByteBuffer.wrap(chunk));
            assertEquals(16L << 20, ops.stat(again).size());
        });
        assertCleanAndAsTheKernelSees(image, ours);
    }

    /**
     * An overwrite that needs the space its own old extents still hold: the write that runs out commits (the old
     * extents become free) and goes on whole, never a short count, never the other bytes.
     */
    @Test
    void overwriteNeedingPinnedSpace_commitsAndWritesWhole_checkClean() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] first = new byte[1 << 20];
            byte[] second = new byte[1 << 20];
            Arrays.fill(first, (byte) 1);
            Arrays.fill(second, (byte) 2);
            int mib = 48; // the image has 79 MiB of data space: two copies of the file do not fit
            for (int i = 0; i < mib; i++) ops.write(f, (long) i << 20, ByteBuffer.wrap(first));
            ops.sync();
            for (int i = 0; i < mib; i++) {
                assertEquals(second.length, ops.write(f, (long) i << 20, ByteBuffer.wrap(second)), "write of MiB " + i);
            }
            byte[] back = new byte[1 << 20];
            for (int i = 0; i < mib; i++) {
                ByteBuffer dst = ByteBuffer.wrap(back);
                ops.read(f, (long) i << 20, dst);
                assertTrue(Arrays.equals(second, back), "MiB " + i + " reads other bytes");
            }
        });
        assertCleanAndAsTheKernelSees(image, ours);
    }

    /**
     * A fallocate whose data space is free but whose metadata is full: its ENOSPC gives the data extents back, so
     * the commit that follows (the gate's retry) finds every group's used bytes in its extent items.
     */
    @Test
    void fallocateWithMetadataFull_givesDataSpaceBack_checkClean() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            // data chunks take every unallocated byte, then their files go: data space is free, the device is not
            byte[] chunk = new byte[1 << 20];
            int files = 0;
            try {
                while (files < 200) {
                    InodeId d = ops.mknod(root, "d" + files, Stat.S_IFREG | 0644, 0, 0, 0);
                    files++;
                    for (int mb = 0; mb < 8; mb++) ops.write(d, (long) mb << 20, ByteBuffer.wrap(chunk));
                }
            } catch (FsException e) {
                if (e.errno() != Errno.ENOSPC) throw e;
            }
            for (int i = 0; i < files; i++) ops.unlink(root, "d" + i);
            ops.sync();
            // then xattrs fill the metadata space
            InodeId f = ops.mknod(root, "x", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] value = new byte[3000];
            boolean full = false;
            for (int i = 0; i < 100_000 && !full; i++) {
                try {
                    ops.setXattr(f, "user.x" + i, value, 0);
                } catch (FsException e) {
                    if (e.errno() != Errno.ENOSPC) throw e;
                    full = true;
                }
            }
            assertTrue(full, "metadata never filled");
            StatFs before = ops.statfs();
            assertErrno(Errno.ENOSPC, () -> ops.fallocate(f, 0, 0, 4096));
            // the failed call took no data space: none is counted used without an extent item
            assertEquals(before, ops.statfs());
            // with a change pending, the gate commits and retries: that commit sees every group as it is
            ops.chmod(f, 0600);
            assertErrno(Errno.ENOSPC, () -> ops.fallocate(f, 0, 0, 4096));
            assertEquals(before, ops.statfs());
            ops.sync();
            assertEquals(0, ops.stat(f).size());
        }
        BtrfsCheck.assertClean(image, "btrfs check");
    }

    /** btrfs check finds nothing wrong, and the kernel's mount lists what our {@code ours} listing held. */
    private void assertCleanAndAsTheKernelSees(Path image, Map<String, String> ours) throws Exception {
        BtrfsCheck.assertClean(image, "btrfs check");
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }
}
