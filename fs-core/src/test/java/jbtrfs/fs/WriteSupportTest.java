package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.Images;

/** Images we cannot write safely are refused read-write with one line naming why, and still mount read-only. */
class WriteSupportTest {
    @TempDir
    Path dir;

    @Test
    void damagedLogTree_refusedReadWrite_mountsReadOnly() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        // a log root in the superblock pointing where no log tree block lies (read-only mounts never follow it)
        setSuperField(image, SuperBlock.OFFSET_LOG_ROOT, 30L << 20); // sector-aligned, as validate_super wants
        FsException e = assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readWriteDefaults()));
        assertTrue(e.getMessage().startsWith("the log tree cannot be replayed: the log root tree cannot be read: "),
                e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertTrue(fs.readOnly());
        }
    }

    @Test
    void unknownCompatRoFlag_refusedReadWrite_mountsReadOnly() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        ByteBuffer sb = readSuper(image);
        setSuperField(image, SuperBlock.OFFSET_COMPAT_RO_FLAGS, sb.getLong(SuperBlock.OFFSET_COMPAT_RO_FLAGS) | (1L << 40));
        FsException e = assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readWriteDefaults()));
        assertTrue(e.getMessage().contains("compat_ro"), e.getMessage());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertTrue(fs.readOnly());
        }
    }

    private static ByteBuffer readSuper(Path image) throws Exception {
        try (FileChannel ch = FileChannel.open(image)) {
            ByteBuffer b = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, SuperBlock.MIRROR_OFFSETS[0]);
            return b.clear();
        }
    }

    /** Changes one u64 of every superblock copy and fixes its checksum. */
    private static void setSuperField(Path image, int offset, long value) throws Exception {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (long at : SuperBlock.MIRROR_OFFSETS) {
                if (at + SuperBlock.SIZE > ch.size()) continue;
                ByteBuffer b = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
                ch.read(b, at);
                b.putLong(offset, value);
                ChecksumType type = ChecksumType.fromCode(Short.toUnsignedInt(b.getShort(SuperBlock.OFFSET_CSUM_TYPE)));
                byte[] csum = new byte[ChecksumType.CSUM_SIZE];
                type.compute(b, SuperBlock.CSUM_SIZE, SuperBlock.SIZE - SuperBlock.CSUM_SIZE, csum);
                b.put(0, csum);
                ch.write(b.clear(), at);
            }
        }
    }
}
