package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * statfs as the kernel reports it for the same image (its read-write mount: `stat -f`), the global block reserve
 * included, on images the kernel filled and on the mkfs variants whose reserve differs (nodesize, no free-space
 * tree, mixed block groups).
 */
class StatFsTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"", "-n 4096", "-n 65536", "-R ^free-space-tree", "-M"})
    void statfs_equalsTheKernels(String mkfsOptions) throws Exception {
        Images.requireRootAndLoop();
        String[] opts = mkfsOptions.isEmpty() ? new String[0] : mkfsOptions.split(" ");
        Path image = Images.mkfs(dir, null, 1024, opts);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Shell.sh("mount -o loop " + image + " " + mnt + " && dd if=/dev/urandom of=" + mnt
                + "/f bs=1M count=60 status=none && cp -a /usr/include/linux " + mnt + "/ && umount " + mnt);
        assertEquals(kernelStatfs(image, mnt), ours(image), "after the kernel's writes: bsize blocks bfree bavail");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "ours", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(new byte[30 << 20]));
            ops.unlink(ops.lookup(ops.root(), "linux"), "kernel.h");
        }
        assertEquals(kernelStatfs(image, mnt), ours(image), "after our writes: bsize blocks bfree bavail");
    }

    private static String kernelStatfs(Path image, Path mnt) throws Exception {
        Shell.sh("mount -o loop " + image + " " + mnt);
        try {
            return Shell.sh("stat -f -c '%S %b %f %a' " + mnt).trim();
        } finally {
            Shell.sh("umount " + mnt);
        }
    }

    private static String ours(Path image) throws Exception {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            StatFs s = fs.operations().statfs();
            return s.blockSize() + " " + s.blocks() + " " + s.blocksFree() + " " + s.blocksAvailable();
        }
    }
}
