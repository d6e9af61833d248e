package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
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
 * A fragmented block group's free space goes into bitmaps past the kernel's threshold (the 8 MiB first data group:
 * more than 11 free extents); btrfs check verifies them, the kernel reads and changes them, and we read its.
 */
class FreeSpaceBitmapTest {
    @TempDir
    Path dir;

    @Test
    void fragmentedGroup_switchesToBitmaps_checkAndKernelAgree() throws Exception {
        Path image = Images.mkfs(dir, null, 512);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId d = ops.mkdir(ops.root(), "frag", 0755, 0, 0);
            for (int i = 0; i < 200; i++) {
                InodeId f = ops.mknod(d, "f" + i, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(new byte[8192]));
            }
            ops.sync();
            for (int i = 0; i < 200; i += 2) ops.unlink(d, "f" + i);
            ops.sync();
        });
        String fst = Shell.sh("btrfs inspect-internal dump-tree -t 10 " + image);
        assertTrue(fst.contains("FREE_SPACE_BITMAP"), "no bitmap after fragmenting:\n" + fst);
        BtrfsCheck.assertClean(image, "bitmaps written");
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
        // the kernel allocates from our bitmaps and writes its own; then we fill the holes again
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Shell.sh("mount -o loop " + image + " " + mnt + " && for i in $(seq 1 30); do head -c 6000 /dev/urandom > "
                + mnt + "/frag/k$i; done && rm -f " + mnt + "/frag/f1 " + mnt + "/frag/f3 && umount " + mnt);
        BtrfsCheck.assertClean(image, "after the kernel");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId d = ops.resolve("/frag");
            for (int i = 5; i < 200; i += 4) ops.unlink(d, "f" + i);
            for (int i = 0; i < 40; i++) {
                InodeId f = ops.mknod(d, "again" + i, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(new byte[12288]));
            }
        }
        BtrfsCheck.assertCleanWithData(image, "ours after the kernel's");
    }
}
