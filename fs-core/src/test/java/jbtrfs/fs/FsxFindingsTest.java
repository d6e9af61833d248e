package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.TreeListing;

/** What xfstests' fsx found, each as the few operations that show it, on a fresh mkfs image. */
class FsxFindingsTest {
    @TempDir
    Path dir;

    /**
     * fsx -S 1, op 8708: a truncate down to the middle of a sector keeps that sector's old bytes on disk past the new
     * end; a preallocation over the end keeps the extent under it, so growing the file showed them. The kernel
     * zeroes the block at i_size before it preallocates past it (btrfs_fallocate's btrfs_truncate_block).
     */
    @Test
    void fallocateOverAnEndInsideASector_readsZerosPastTheOldEnd() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            int[] modes = {0, FsOperations.FALLOC_FL_KEEP_SIZE};
            for (int mode : modes) {
                InodeId f = ops.mknod(ops.root(), "f" + mode, Stat.S_IFREG | 0644, 0, 0, 0);
                byte[] model = new byte[0x30000];
                Arrays.fill(model, (byte) 0xe9);
                ops.write(f, 0, ByteBuffer.wrap(model));
                ops.truncate(f, 0x1887f);
                ops.fallocate(f, mode, 0x13e52, 0xbcde);
                ops.truncate(f, 0x26630);
                model = Arrays.copyOf(Arrays.copyOf(model, 0x1887f), 0x26630);
                byte[] back = new byte[model.length];
                assertEquals(model.length, ops.read(f, 0, ByteBuffer.wrap(back)));
                assertArrayEquals(model, back, "mode " + mode);
            }
        });
        BtrfsCheck.assertCleanWithData(image, "btrfs check");
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 20));
    }
}
