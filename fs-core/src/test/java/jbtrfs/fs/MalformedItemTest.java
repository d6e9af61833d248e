package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.device.SparseBytes;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.FuzzBase;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.ImageMutator;
import jbtrfs.testing.ImageWalk;
import jbtrfs.testing.Images;

/**
 * Items whose bytes contradict their format, with checksums sealed again so that the decoders meet them: each is
 * a corruption error naming tree, block and slot (or a one-line refusal at open), never an unchecked exception.
 * The cases the fuzzer ({@link ImageFuzzTest}) and btrfs-progs' fuzz images found.
 */
class MalformedItemTest {
    private static final int FILE_SIZE = 100_000; // one data extent of 102400 bytes, 25 sectors
    private static final int EXTENT_ITEM = 168;
    private static final int DIR_INDEX = 96;
    private static final int CHUNK_ITEM = 228;
    private static final long DUP = 1L << 5;

    @TempDir
    Path tmp;

    private FuzzBase image(String... mkfsOptions) throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src"));
        byte[] data = new byte[FILE_SIZE];
        new Random(5).nextBytes(data);
        Files.write(src.resolve("file"), data);
        return FuzzBase.of("test", Images.mkfs(tmp, src, 256, mkfsOptions));
    }

    private Path write(SparseBytes image) throws Exception {
        Path out = tmp.resolve("damaged-" + System.nanoTime() + ".img");
        image.writeTo(out);
        return out;
    }

    /** format.ExtentItem.read used to throw IllegalArgumentException "unknown inline ref type 0" (issue 16). */
    @Test
    void extentItemWithInlineRefType0_isACorruptBlockWhenItsFileGoes() throws Exception {
        FuzzBase base = image();
        SparseBytes damaged = base.copy();
        String key = new ImageMutator(base).patchItem(damaged, (o, t, off) -> t == EXTENT_ITEM && off == 102400,
                (leaf, at, size) -> leaf.put(at + 24, (byte) 0)); // the first inline ref's type byte
        assertNotNull(key, "no data extent item of 102400 bytes");
        Path image = write(damaged);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertTrue(ImageWalk.walk(fs.operations()).errors().isEmpty(), "reads never need the extent item");
        }
        // the commit at close meets it (the extent's references settle there), aborts and says where, in one line
        String msg = unlinkThenCommitError(image);
        assertTrue(msg.matches(inExtentItem(key) + "inline ref at byte 24 has type 0, expected .*"), msg);
    }

    /** Commit.applyDataRefs used to throw IllegalStateException "ref count below zero". */
    @Test
    void extentDataRefCountBelowWhatPointsAtTheExtent_isACorruptBlock() throws Exception {
        FuzzBase base = image();
        SparseBytes damaged = base.copy();
        String key = new ImageMutator(base).patchItem(damaged, (o, t, off) -> t == EXTENT_ITEM && off == 102400,
                (leaf, at, size) -> {
                    assertEquals(178, Byte.toUnsignedInt(leaf.get(at + 24)), "an inline EXTENT_DATA_REF");
                    leaf.putInt(at + 25 + 24, 0); // its count, after root, objectid and offset
                });
        assertNotNull(key);
        String msg = unlinkThenCommitError(write(damaged));
        assertTrue(msg.matches(inExtentItem(key) + "data reference .* would count -1 .*"), msg);
    }

    /**
     * The fuzzer's seeds 7329 and 7891: a DATA block group whose item said SYSTEM got the chunk tree's new blocks,
     * which the sys_chunk_array cannot map; the commit went through and the image no longer opened.
     */
    @Test
    void blockGroupWhoseFlagsDifferFromItsChunk_isRefusedReadWrite() throws Exception {
        FuzzBase base = image();
        SparseBytes damaged = base.copy();
        long[] start = {-1};
        assertNotNull(new ImageMutator(base).patchItem(damaged, (o, t, off) -> {
            start[0] = o;
            return t == 192 && o == base.dataChunk();
        }, (leaf, at, size) -> leaf.putLong(at + 16, 2))); // flags: SYSTEM
        Path image = write(damaged);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertTrue(ImageWalk.walk(fs.operations()).errors().isEmpty(), "reads never need the block group items");
        }
        FsException e = assertThrows(FsException.class,
                () -> Filesystem.open(image, MountOptions.readWriteDefaults()).close());
        assertTrue(e.getMessage().matches(".*corrupt tree block \\d+ \\(root (2|10), slot \\d+\\): item \\(" + start[0]
                + " BLOCK_GROUP_ITEM \\d+\\): block group flags 0x2 do not match its chunk's type 0x1"), e.getMessage());
    }

    @Test
    void dirIndexWhoseNameOverrunsItsItem_isACorruptBlockAndTheRestReads() throws Exception {
        FuzzBase base = image();
        SparseBytes damaged = base.copy();
        assertNotNull(new ImageMutator(base).patchItem(damaged, (o, t, off) -> o == 256 && t == DIR_INDEX,
                (leaf, at, size) -> leaf.putShort(at + 27, (short) 0xffff)));
        try (Filesystem fs = Filesystem.open(write(damaged), MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            CorruptBlockException e = assertThrows(CorruptBlockException.class, () -> ops.readdir(ops.root(), 0, 100));
            assertEquals(5, e.root(), e.getMessage());
            assertTrue(e.getMessage().contains("dir item name 65535"), e.getMessage());
            assertEquals(FILE_SIZE, ops.stat(ops.lookup(ops.root(), "file")).size(), "lookup goes by DIR_ITEM");
        }
    }

    /** A compressed inline extent's ram_bytes of 2^64 - 1 used to be a NegativeArraySizeException on read. */
    @Test
    void compressedInlineExtentLargerThanASector_isACorruptBlock() throws Exception {
        Path image = Images.mkfs(tmp, null, 256);
        MountOptions zstd = MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withCompression(new MountOptions.Compression(CompressionType.ZSTD, 3, false));
        long ino;
        try (Filesystem fs = Filesystem.open(image, zstd)) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "small", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap("text again and again\n".repeat(100).getBytes()));
            ino = f.objectid();
        }
        FuzzBase base = FuzzBase.of("zstd", image);
        SparseBytes damaged = base.copy();
        assertNotNull(new ImageMutator(base).patchItem(damaged, (o, t, off) -> o == ino && t == 108 && off == 0,
                (leaf, at, size) -> {
                    assertEquals(0, leaf.get(at + 20), "an inline extent");
                    assertEquals(3, leaf.get(at + 16), "zstd");
                    leaf.putLong(at + 8, -1);
                }));
        try (Filesystem fs = Filesystem.open(write(damaged), MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.lookup(ops.root(), "small");
            CorruptBlockException e = assertThrows(CorruptBlockException.class,
                    () -> ops.read(f, 0, ByteBuffer.allocate(4096)));
            assertEquals(5, e.root(), e.getMessage());
            assertTrue(e.getMessage().endsWith("compressed inline extent of 18446744073709551615 bytes, expected at "
                    + "most the sectorsize 4096"), e.getMessage());
        }
    }

    /** bko-97031, sys-chunk-stripe-len-bogus: the kernel accepts no stripe_len but 64 KiB. */
    @Test
    void sysChunkArrayChunkWithStripeLen0_isRefusedInOneLine() throws Exception {
        Path image = image().copyTo(tmp.resolve("stripe-len.img"));
        ImageDamage.patchSuperblocks(image, b -> b.putLong(SuperBlock.OFFSET_SYS_CHUNK_ARRAY + 17 + 16, 0));
        String msg = refusal(image);
        assertTrue(msg.matches("corrupt sys_chunk_array in the superblock: chunk at \\d+: stripe_len 0, expected 65536"),
                msg);
    }

    /** The fuzzer's seed 1272: a size past the 2048 bytes of the array used to be an IndexOutOfBoundsException. */
    @Test
    void sysChunkArraySizePastTheArray_isRefusedInOneLine() throws Exception {
        Path image = image().copyTo(tmp.resolve("sys-array-size.img"));
        ImageDamage.patchSuperblocks(image, b -> b.putInt(SuperBlock.OFFSET_SYS_CHUNK_ARRAY_SIZE, -1));
        assertEquals("corrupt superblock: sys_chunk_array_size 4294967295, expected 97..2048", refusal(image));
    }

    /** bko-97041: a chunk whose stripe count its profile cannot have (here DUP with one stripe). */
    @Test
    void chunkTreeDupChunkWithOneStripe_isRefusedInOneLine() throws Exception {
        FuzzBase base = image();
        SparseBytes damaged = base.copy();
        long start = base.dupChunks().get(base.dupChunks().size() - 1); // mkfs makes metadata and system DUP
        assertNotNull(new ImageMutator(base).patchItem(damaged, (o, t, off) -> t == CHUNK_ITEM && off == start,
                (leaf, at, size) -> {
                    assertEquals(DUP, leaf.getLong(at + 24) & DUP);
                    leaf.putShort(at + 44, (short) 1);
                }));
        assertEquals("cannot read the chunk tree: chunk at " + start + ": 1 stripes, expected 2 for its profile",
                refusal(write(damaged)));
    }

    /** Removes "file" on a read-write mount and closes it; returns the error, typed and one line, it must end in. */
    private static String unlinkThenCommitError(Path image) {
        FsException e = assertThrows(FsException.class, () -> {
            try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
                fs.operations().unlink(fs.operations().root(), "file");
            }
        });
        for (Throwable c = e; c != null; c = c.getCause()) {
            assertTrue(!(c instanceof RuntimeException), "unchecked inside: " + c);
        }
        assertTrue(!e.getMessage().contains("\n") && !e.getMessage().contains("internal error"), e.getMessage());
        return e.getMessage();
    }

    /** The start of a message about the extent tree's item {@code key} ("(objectid 168 offset)"), as a regex. */
    private static String inExtentItem(String key) {
        return ".*corrupt tree block \\d+ \\(root 2, slot \\d+\\): item " + Pattern.quote(key)
                .replace(" 168 ", " EXTENT_ITEM ") + ": ";
    }

    private static String refusal(Path image) {
        FsException e = assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readOnlyDefaults()).close());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }
}
