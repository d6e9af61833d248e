package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * Writes, truncates and fallocates whose ranges end at the largest file offset (the kernel's MAX_LFS_FILESIZE,
 * 2^63 - 1: the last sector ends at 2^63, past a signed long), as xfstests generic/564 leaves them: the bytes read
 * back, the extents cover exactly the sectors written, btrfs check is clean with the files and after their deletes;
 * the kernel's own extents there read back and delete clean too.
 */
class LargestFileOffsetTest {
    private static final long MAX = Long.MAX_VALUE;
    private static final int SECTOR = 4096;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"", "-O ^no-holes"})
    void rangesEndingAtTheLargestOffset_readBack_checkClean_deleteClean(String mkfsOptions) throws Exception {
        Path image = Images.mkfs(dir, null, 256, mkfsOptions.isEmpty() ? new String[0] : mkfsOptions.split(" "));
        int punch = FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE;
        int zeroKeep = FsOperations.FALLOC_FL_ZERO_RANGE | FsOperations.FALLOC_FL_KEEP_SIZE;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();

            // generic/564's copy to max_off: the VFS shortens it to 64 KiB ending at the largest offset
            InodeId copy = ops.mknod(root, "copy", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] a = filled(65536, 0x61);
            assertEquals(65536, ops.write(copy, MAX - 65536, ByteBuffer.wrap(a)));
            assertEquals(MAX, ops.stat(copy).size());
            assertEquals(sectorsFrom(MAX - 65536) * SECTOR / 512, ops.stat(copy).blocks());
            assertArrayEquals(a, tail(ops, copy, 65536));

            InodeId refused = ops.mknod(root, "refused", Stat.S_IFREG | 0644, 0, 0, 0);
            assertErrno(Errno.EFBIG, () -> ops.write(refused, MAX - 10, ByteBuffer.wrap(new byte[11])));
            assertErrno(Errno.EFBIG, () -> ops.write(refused, MAX, ByteBuffer.wrap(new byte[1])));
            assertErrno(Errno.EFBIG, () -> ops.fallocate(refused, 0, MAX - 1, 2));
            assertErrno(Errno.EFBIG, () -> ops.fallocate(refused, punch, MAX - 1, 2));
            assertErrno(Errno.EFBIG, () -> ops.fallocate(refused, 0, 1, MAX));
            // every offset at once: no device holds it, and nothing is left half done
            assertErrno(Errno.ENOSPC, () -> ops.fallocate(refused, 0, 0, MAX));
            assertEquals(0, ops.stat(refused).size());
            assertEquals(0, ops.stat(refused).blocks());

            InodeId trunc = ops.mknod(root, "trunc", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.truncate(trunc, MAX);
            ops.write(trunc, MAX - 100, ByteBuffer.wrap(filled(50, 0x63)));
            ops.truncate(trunc, MAX - 10);
            assertArrayEquals(concat(filled(50, 0x63), new byte[40]), tail(ops, trunc, 90));

            InodeId punched = ops.mknod(root, "punched", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(punched, MAX - 20000, ByteBuffer.wrap(filled(20000, 0x65)));
            ops.fallocate(punched, punch, MAX - 9000, 9000);
            assertArrayEquals(concat(filled(11000, 0x65), new byte[9000]), tail(ops, punched, 20000));

            InodeId zeroed = ops.mknod(root, "zeroed", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(zeroed, MAX - 20000, ByteBuffer.wrap(filled(20000, 0x66)));
            ops.fallocate(zeroed, zeroKeep, MAX - 3000, 3000);
            assertArrayEquals(concat(filled(17000, 0x66), new byte[3000]), tail(ops, zeroed, 20000));
            assertEquals(MAX, ops.stat(zeroed).size());

            InodeId prealloc = ops.mknod(root, "prealloc", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(prealloc, 0, MAX - 30000, 30000);
            assertEquals(MAX, ops.stat(prealloc).size());
            assertEquals(sectorsFrom(MAX - 30000) * SECTOR / 512, ops.stat(prealloc).blocks());
            ops.write(prealloc, MAX - 10000, ByteBuffer.wrap(filled(100, 0x67)));
            byte[] want = new byte[10000];
            Arrays.fill(want, 0, 100, (byte) 0x67);
            assertArrayEquals(want, tail(ops, prealloc, 10000));

            InodeId kept = ops.mknod(root, "kept", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(kept, FsOperations.FALLOC_FL_KEEP_SIZE, MAX - 3000, 3000);
            assertEquals(0, ops.stat(kept).size());
            assertEquals(sectorsFrom(MAX - 3000) * SECTOR / 512, ops.stat(kept).blocks());
            ops.sync();
            BtrfsCheck.assertClean(image, "with the files");

            for (String name : new String[] {"copy", "refused", "trunc", "punched", "zeroed", "prealloc", "kept"}) {
                ops.unlink(root, name);
            }
            ops.sync();
        }
        BtrfsCheck.assertClean(image, "after the deletes");
    }

    @Test
    void kernelWrittenExtentsEndingAtTheLargestOffset_readBack_deleteClean() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Shell.sh("mount -o loop " + image + " " + mnt);
        try {
            Shell.sh("python3 -c 'import os; fd = os.open(\"copy\", os.O_WRONLY | os.O_CREAT, 0o644); "
                    + "os.pwrite(fd, b\"a\" * 65536, " + (MAX - 65536) + ")'\n"
                    + "fallocate -o " + (MAX - 30000) + " -l 30000 prealloc\n", mnt);
        } finally {
            Shell.sh("umount " + mnt);
        }
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId copy = ops.lookup(ops.root(), "copy");
            assertEquals(sectorsFrom(MAX - 65536) * SECTOR / 512, ops.stat(copy).blocks());
            assertArrayEquals(filled(65536, 0x61), tail(ops, copy, 65536));
            InodeId prealloc = ops.lookup(ops.root(), "prealloc");
            assertEquals(sectorsFrom(MAX - 30000) * SECTOR / 512, ops.stat(prealloc).blocks());
            assertArrayEquals(new byte[30000], tail(ops, prealloc, 30000));
            ops.unlink(ops.root(), "copy");
            ops.unlink(ops.root(), "prealloc");
        }
        BtrfsCheck.assertClean(image, "after deleting the kernel's files");
    }

    /** The sectors from the one holding {@code offset} to the end of the largest file. */
    private static long sectorsFrom(long offset) {
        return MAX / SECTOR - offset / SECTOR + 1;
    }

    /** The file's last {@code n} bytes before the largest offset. */
    private static byte[] tail(FsOperations ops, InodeId file, int n) throws Exception {
        long size = ops.stat(file).size();
        byte[] b = new byte[n];
        assertEquals(n, ops.read(file, size - n, ByteBuffer.wrap(b)));
        return b;
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] concat(byte[] x, byte[] y) {
        byte[] b = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, b, x.length, y.length);
        return b;
    }
}
