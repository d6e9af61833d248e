package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * Damaged images: refused at open with one line naming the problem, or EIO (a typed exception) exactly where the
 * damage is while the rest stays readable. Where damage lies is found with btrfs-progs (dump-tree, map-logical).
 */
class CorruptImageTest {
    @TempDir
    Path tmp;

    private Path simpleImage(String... options) throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src" + System.nanoTime()));
        Random r = new Random(7);
        for (int i = 0; i < 3; i++) {
            byte[] b = new byte[200_000];
            r.nextBytes(b);
            Files.write(src.resolve("file" + i), b);
        }
        for (int i = 0; i < 400; i++) Files.writeString(src.resolve("small-" + i + "-" + "y".repeat(60)), "s" + i);
        return Images.mkfs(tmp, src, 256, options);
    }

    private static String openError(Path image) {
        FsException e = assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readOnlyDefaults()).close());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void open_refusesFileWithoutMagic() throws Exception {
        Path image = tmp.resolve("zeros.img");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(64L << 20);
        }
        assertEquals("not a Btrfs image: no superblock magic at 64 KiB", openError(image));
    }

    @Test
    void open_refusesMissingImage() {
        assertEquals("image not found: " + tmp.resolve("absent.img"), openError(tmp.resolve("absent.img")));
    }

    @Test
    void open_refusesBadChecksumOnEveryCopy() throws Exception {
        Path image = simpleImage();
        for (long off : new long[] {SuperBlock.MIRROR_OFFSETS[0], SuperBlock.MIRROR_OFFSETS[1]}) {
            ImageDamage.flipByte(image, off + 200);
        }
        String msg = openError(image);
        assertTrue(msg.contains("bad superblock checksum on every copy"), msg);
    }

    @Test
    void open_usesSecondCopyWhenPrimaryIsBad() throws Exception {
        Path image = simpleImage();
        ImageDamage.flipByte(image, SuperBlock.MIRROR_OFFSETS[0] + 200);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertEquals(64L << 20, fs.superBlock().bytenr());
            assertEquals(200_000, fs.operations().stat(fs.operations().resolve("/file1")).size());
        }
    }

    @Test
    void open_refusesUnknownIncompatFlagByName() throws Exception {
        Path image = simpleImage();
        ImageDamage.patchSuperblocks(image, b -> b.putLong(SuperBlock.OFFSET_INCOMPAT_FLAGS,
                b.getLong(SuperBlock.OFFSET_INCOMPAT_FLAGS) | (1L << 40)));
        assertEquals("unsupported incompat feature: unknown(0x10000000000) (flags 0x10000000000)", openError(image));
    }

    @Test
    void open_refusesTruncatedImage() throws Exception {
        Path image = simpleImage();
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(100L << 20);
        }
        String msg = openError(image);
        assertTrue(msg.startsWith("image is truncated: the filesystem needs 268435456 bytes, the image has 104857600"),
                msg);
    }

    @Test
    void corruptLeaf_isEioForItsItemsOnly() throws Exception {
        Path image = simpleImage("-m", "single");
        List<Long> leaves = ImageDamage.leaves(image, "5");
        assertTrue(leaves.size() >= 2, "the fs tree should span several leaves: " + leaves.size());
        long victim = leaves.get(leaves.size() - 1);
        ImageDamage.flipByte(image, ImageDamage.physical(image, victim) + 1000);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            int ok = 0;
            int eio = 0;
            for (DirEntry d : ops.readdir(ops.root(), 0, 1000)) {
                try {
                    ops.stat(d.id());
                    ok++;
                } catch (CorruptBlockException e) {
                    assertEquals(victim, e.bytenr());
                    eio++;
                }
            }
            assertTrue(ok > 0 && eio > 0, "some entries readable (" + ok + "), some EIO (" + eio + ")");
            assertTrue(fs.counters().corruptBlocks() > 0);
        }
    }

    @Test
    void corruptDupCopy_isServedFromTheOther() throws Exception {
        Path image = simpleImage();
        long leaf = ImageDamage.leaves(image, "5").get(0);
        List<Long> copies = ImageDamage.physicalCopies(image, leaf);
        assertEquals(2, copies.size(), "DUP metadata has two copies");
        ImageDamage.flipByte(image, copies.get(0) + 500);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            for (DirEntry d : ops.readdir(ops.root(), 0, 1000)) ops.stat(d.id());
            assertEquals(1, fs.counters().mirrorRetries());
            assertEquals(1, fs.counters().metadataChecksumFailures());
        }
    }

    @Test
    void corruptDataSector_isEioForThatRangeOnly() throws Exception {
        Path image = simpleImage();
        long logical;
        byte[] want;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId id = ops.resolve("/file1");
            logical = ImageDamage.firstExtentOf(image, "file1");
            want = new byte[200_000];
            ops.read(id, 0, ByteBuffer.wrap(want));
        }
        // damage the third sector of file1's extent
        ImageDamage.flipByte(image, ImageDamage.physical(image, logical) + 2 * 4096 + 17);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId id = ops.resolve("/file1");
            assertTrue(assertErrno(Errno.EIO, () -> ops.read(id, 8192, ByteBuffer.allocate(100))).getMessage()
                    .contains("data checksum mismatch"));
            assertTrue(assertErrno(Errno.EIO, () -> ops.read(id, 0, ByteBuffer.allocate(65536))).getMessage()
                    .contains("data checksum mismatch"));
            ByteBuffer before = ByteBuffer.allocate(8192);
            assertEquals(8192, ops.read(id, 0, before));
            assertArrayEquals(Arrays.copyOf(want, 8192), before.array());
            ByteBuffer after = ByteBuffer.allocate(4096);
            assertEquals(4096, ops.read(id, 12288, after));
            assertArrayEquals(Arrays.copyOfRange(want, 12288, 16384), after.array());
            ops.read(ops.resolve("/file2"), 0, ByteBuffer.allocate(200_000));
            assertEquals(2, fs.counters().dataChecksumFailures());
        }
    }
}
