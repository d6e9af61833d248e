package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;

/**
 * Chunks, dev extents and block groups against the device at mount (as bko-200403: a chunk past the end):
 * read-write is refused with one line naming the chunk, its stripe's physical end and the device size; read-only
 * mounts, and reads of what lies past the end fail with a typed error (EIO), while the rest reads.
 */
class DeviceBoundsTest {
    /**
     * The image is cut here: mkfs puts the big file's data at physical 13-16 MiB, 1-9 MiB and 101-148 MiB (and
     * empty data chunks up to 173 MiB), metadata below 102 MiB. (A device smaller than the dev item's total_bytes is refused
     * for any mount, as the kernel's read_one_dev does: SuperBlocks.checkSupported.)
     */
    private static final long CUT = 140L << 20;

    @TempDir
    Path dir;

    @Test
    void chunkPastTheEnd_refusesReadWriteAndReadsFailWithEioReadOnly() throws Exception {
        Path image = truncatedImage();
        // total_bytes as if the filesystem had been made on the smaller device: only the chunks lie past its end
        ImageDamage.patchSuperblocks(image, sb -> sb.putLong(SuperBlock.OFFSET_TOTAL_BYTES, CUT)
                .putLong(SuperBlock.OFFSET_DEV_ITEM + 8, CUT));
        FsException refused = assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readWriteDefaults()).close());
        String line = refused.getMessage();
        assertTrue(line.matches("chunk at logical \\d+: stripe 0 ends at physical \\d+, past the end of the device "
                + "\\(" + CUT + " bytes\\); mount it with --read-only"), line);

        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            ByteBuffer small = ByteBuffer.allocate(64);
            ops.read(ops.lookup(root, "small"), 0, small);
            assertEquals("hello\n", new String(small.array(), 0, small.position(), StandardCharsets.UTF_8));
            InodeId big = ops.lookup(root, "big");
            ByteBuffer first = ByteBuffer.allocate(1 << 20);
            ops.read(big, 0, first);
            assertArrayEquals(Arrays.copyOf(bigData(), 1 << 20), first.array(), "data inside the device");
            // somewhere in the file the data lies past the cut: that read is an FsException (EIO), no other kind
            FsException e = assertThrows(FsException.class, () -> {
                for (long off = 0; off < BIG; off += 1 << 20) ops.read(big, off, ByteBuffer.allocate(1 << 20));
            });
            assertTrue(e.getMessage().contains("past the end of the device (" + CUT + " bytes)"), e.getMessage());
        }
    }

    @Test
    void devExtentPastTheEnd_refusesReadWrite() throws Exception {
        Path image = Images.mkfs(dir, null, 128);
        long size = Files.size(image);
        // the first dev extent (the data chunk's, at physical 13 MiB) claims the whole device in length
        ImageDamage.patchTreeBlock(image, ImageDamage.treeRoot(image, "dev"), NODESIZE,
                leaf -> setItemField(leaf, KeyType.DEV_EXTENT, 24, size));
        FsException refused = assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readWriteDefaults()).close());
        assertTrue(refused.getMessage().matches("dev extent of chunk at logical \\d+ ends at physical \\d+, past the end "
                + "of the device \\(" + size + " bytes\\); mount it with --read-only"), refused.getMessage());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertTrue(fs.readOnly());
        }
    }

    @Test
    void blockGroupWithoutItsChunk_refusesReadWrite() throws Exception {
        Path image = Images.mkfs(dir, null, 128);
        // the second block group item says half its chunk's length (the extent tree is one leaf here: no parent key)
        ImageDamage.patchTreeBlock(image, ImageDamage.treeRoot(image, "extent"), NODESIZE, leaf -> {
            int slot = slotOf(leaf, KeyType.BLOCK_GROUP_ITEM, 1);
            int at = Header.SIZE + slot * Item.SIZE + Key.OFFSET_OFFSET;
            leaf.putLong(at, leaf.getLong(at) / 2);
        });
        CorruptBlockException e = assertThrows(CorruptBlockException.class,
                () -> Filesystem.open(image, MountOptions.readWriteDefaults()).close());
        assertTrue(e.getMessage().contains("has no chunk of its start and length"), e.getMessage());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertTrue(fs.readOnly());
        }
    }

    private static final int NODESIZE = 16384;

    /** The slot of the {@code nth} (0-based) item of {@code type} in a leaf. */
    private static int slotOf(ByteBuffer leaf, int type, int nth) {
        for (int i = 0; i < leaf.getInt(Header.OFFSET_NRITEMS); i++) {
            if (Key.read(leaf, Header.SIZE + i * Item.SIZE).type() == type && nth-- == 0) return i;
        }
        throw new AssertionError("no item of type " + type + " in the leaf");
    }

    /** Sets the u64 at {@code field} of the first item of {@code type}'s data. */
    private static void setItemField(ByteBuffer leaf, int type, int field, long value) {
        int at = Header.SIZE + slotOf(leaf, type, 0) * Item.SIZE;
        leaf.putLong(Header.SIZE + leaf.getInt(at + Item.OFFSET_DATA_OFFSET) + field, value);
    }

    private static final int BIG = 60_000_000;

    private static byte[] bigData() {
        byte[] b = new byte[BIG];
        new Random(16).nextBytes(b);
        return b;
    }

    /** mkfs --rootdir of a 60 MB file and a small one on 256 MiB, then the file cut to {@link #CUT}. */
    private Path truncatedImage() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.write(src.resolve("big"), bigData());
        Files.writeString(src.resolve("small"), "hello\n");
        Path image = Images.mkfs(dir, src, 256);
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(CUT);
        }
        return image;
    }
}
