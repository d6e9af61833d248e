package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.compress.CompressionType;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.EmptyImage;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TestImage;

/**
 * What cutting a range out of a file (≈ btrfs_drop_extents, reached through punch hole, zero range, truncate and
 * overwrite) does to file extent items that start before it, end after it, lie inside it or cover it exactly, and
 * to inline, compressed and preallocated extents: the items and back references dump-tree reads after the commit,
 * the bytes read back, and btrfs check (with data checksums) clean. One cut per file, on a fresh {@link EmptyImage};
 * the kernel makes one set of the same cuts on a mkfs'd image for comparison. {@link DropExtentsTest} checks the same
 * rules without btrfs-progs.
 */
class FileExtentsTest {
    private static final int K = 1024;
    private static final long INO = 257;
    private static final Pattern DISK = Pattern.compile("^(?:extent|prealloc) data disk byte (\\d+) nr (\\d+)$");
    private static final Pattern RANGE =
            Pattern.compile("^(?:extent|prealloc) data offset (\\d+) nr (\\d+)(?: ram (\\d+))?$");
    private static final Pattern INLINE = Pattern.compile("^inline extent data size \\d+ ram_bytes (\\d+) "
            + "compression (\\d+)");
    private static final Pattern COMPRESSION = Pattern.compile("^extent compression (\\d+)");
    private static final Pattern TYPE = Pattern.compile("^generation \\d+ type \\d+ \\((\\w+)\\)$");
    private static final Pattern NBYTES = Pattern.compile("size (\\d+) nbytes (\\d+)");

    @TempDir
    Path dir;

    /** A file extent item as dump-tree prints it; ram_bytes is -1 where it prints none (prealloc). */
    record FileItem(long key, String type, long diskBytenr, long diskNumBytes, long offset, long numBytes,
                    long ramBytes, int compression) {
    }

    /** One extent data back reference of the top subvolume: file {@code objectid}, its extent at {@code offset}. */
    record DataRef(long objectid, long offset, int count) {
    }

    @Test
    void punchInsideOneExtent_keepsBothEndsOfIt_withOneReferenceCountingTwo() throws Exception {
        TestImage image = emptyImage(true);
        byte[] data = random(64 * K);
        try (Filesystem fs = open(image, null)) {
            FsOperations ops = fs.operations();
            InodeId f = create(ops, "f", data);
            punch(ops, f, 16 * K, 16 * K);
            Arrays.fill(data, 16 * K, 32 * K, (byte) 0);
            assertArrayEquals(data, read(ops, f, data.length));
        }
        List<FileItem> items = fileItems(image, INO);
        long x = items.get(0).diskBytenr();
        assertEquals(List.of(
                new FileItem(0, "regular", x, 64 * K, 0, 16 * K, 64 * K, 0),
                new FileItem(32 * K, "regular", x, 64 * K, 32 * K, 32 * K, 64 * K, 0)), items);
        assertEquals(List.of(new DataRef(INO, 0, 2)), refs(image).get(x));
        assertEquals(48 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after a punch inside one extent");
    }

    @Test
    void punchAcrossThreeExtents_cutsTheOuterOnes_dropsTheOneInside() throws Exception {
        TestImage image = emptyImage(true);
        long[] extents = punchThreeExtents(image, 8 * K, 32 * K);
        assertEquals(List.of(
                new FileItem(0, "regular", extents[0], 16 * K, 0, 8 * K, 16 * K, 0),
                new FileItem(40 * K, "regular", extents[2], 16 * K, 8 * K, 8 * K, 16 * K, 0)),
                fileItems(image, INO));
        Map<Long, List<DataRef>> refs = refs(image);
        assertEquals(List.of(new DataRef(INO, 0, 1)), refs.get(extents[0]));
        assertEquals(null, refs.get(extents[1]), "the extent that lay inside the range is freed");
        // a reference names the file offset where the extent's byte 0 would be: 40K - 8K
        assertEquals(List.of(new DataRef(INO, 32 * K, 1)), refs.get(extents[2]));
        assertEquals(16 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after a punch across three extents");
    }

    @Test
    void punchCoveringOneExtentExactly_dropsItAlone_andLeavesAHoleItemWithoutNoHoles() throws Exception {
        TestImage image = emptyImage(false);
        long[] extents = punchThreeExtents(image, 16 * K, 16 * K);
        assertEquals(List.of(
                new FileItem(0, "regular", extents[0], 16 * K, 0, 16 * K, 16 * K, 0),
                new FileItem(16 * K, "regular", 0, 0, 0, 16 * K, 16 * K, 0),
                new FileItem(32 * K, "regular", extents[2], 16 * K, 0, 16 * K, 16 * K, 0)),
                fileItems(image, INO));
        Map<Long, List<DataRef>> refs = refs(image);
        assertEquals(List.of(new DataRef(INO, 0, 1)), refs.get(extents[0]));
        assertEquals(null, refs.get(extents[1]));
        assertEquals(List.of(new DataRef(INO, 32 * K, 1)), refs.get(extents[2]));
        assertEquals(32 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after a punch of one whole extent");
    }

    @Test
    void truncateInsideAnExtent_keepsItsHeadToTheEndOfTheSector() throws Exception {
        TestImage image = emptyImage(true);
        byte[] data = random(64 * K);
        try (Filesystem fs = open(image, null)) {
            FsOperations ops = fs.operations();
            InodeId f = create(ops, "f", data);
            ops.truncate(f, 10_000);
            assertArrayEquals(Arrays.copyOf(data, 10_000), read(ops, f, 10_000));
        }
        List<FileItem> items = fileItems(image, INO);
        long x = items.get(0).diskBytenr();
        assertEquals(List.of(new FileItem(0, "regular", x, 64 * K, 0, 12 * K, 64 * K, 0)), items);
        assertEquals(List.of(new DataRef(INO, 0, 1)), refs(image).get(x));
        assertEquals(12 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after a truncate inside an extent");
    }

    @Test
    void overwriteInsideAnExtent_cutsItAroundTheNewExtent() throws Exception {
        TestImage image = emptyImage(true);
        byte[] data = random(64 * K);
        byte[] patch = random(16 * K);
        try (Filesystem fs = open(image, null)) {
            FsOperations ops = fs.operations();
            InodeId f = create(ops, "f", data);
            ops.write(f, 16 * K, ByteBuffer.wrap(patch));
            System.arraycopy(patch, 0, data, 16 * K, patch.length);
            assertArrayEquals(data, read(ops, f, data.length));
        }
        List<FileItem> items = fileItems(image, INO);
        long x = items.get(0).diskBytenr();
        long y = items.get(1).diskBytenr();
        assertEquals(List.of(
                new FileItem(0, "regular", x, 64 * K, 0, 16 * K, 64 * K, 0),
                new FileItem(16 * K, "regular", y, 16 * K, 0, 16 * K, 16 * K, 0),
                new FileItem(32 * K, "regular", x, 64 * K, 32 * K, 32 * K, 64 * K, 0)), items);
        Map<Long, List<DataRef>> refs = refs(image);
        assertEquals(List.of(new DataRef(INO, 0, 2)), refs.get(x));
        assertEquals(List.of(new DataRef(INO, 16 * K, 1)), refs.get(y));
        assertEquals(64 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after an overwrite inside an extent");
    }

    @Test
    void cutsOfAnInlineExtent_dropItWhole_andWriteWhatIsKeptAgain() throws Exception {
        TestImage image = emptyImage(true);
        byte[] data = random(100);
        try (Filesystem fs = open(image, null)) {
            FsOperations ops = fs.operations();
            InodeId cut = create(ops, "cut", data);
            InodeId emptied = create(ops, "emptied", data);
            InodeId grown = create(ops, "grown", data);
            ops.truncate(cut, 50);
            ops.truncate(emptied, 0);
            // a write past the inline file's sector turns it into one regular extent from offset 0 to EOF's sector
            ops.write(grown, 8000, ByteBuffer.wrap(data));
            assertArrayEquals(Arrays.copyOf(data, 50), read(ops, cut, 50));
            byte[] g = new byte[8100];
            System.arraycopy(data, 0, g, 0, 100);
            System.arraycopy(data, 0, g, 8000, 100);
            assertArrayEquals(g, read(ops, grown, g.length));
        }
        assertEquals(List.of(new FileItem(0, "inline", 0, 0, 0, 0, 50, 0)), fileItems(image, INO));
        assertEquals(50, nbytes(image, INO));
        assertEquals(List.of(), fileItems(image, INO + 1));
        assertEquals(0, nbytes(image, INO + 1));
        List<FileItem> grown = fileItems(image, INO + 2);
        long x = grown.get(0).diskBytenr();
        assertEquals(List.of(new FileItem(0, "regular", x, 8 * K, 0, 8 * K, 8 * K, 0)), grown);
        assertEquals(List.of(new DataRef(INO + 2, 0, 1)), refs(image).get(x));
        assertEquals(8 * K, nbytes(image, INO + 2));
        BtrfsCheck.assertCleanWithData(image.path(), "after cutting inline extents");
    }

    @Test
    void punchInsideACompressedExtent_keepsBothEndsCompressed_pointingAtTheWholeExtent() throws Exception {
        TestImage image = emptyImage(true);
        byte[] data = new byte[128 * K];
        for (int i = 0; i < data.length; i++) data[i] = (byte) ("compressible " + (i / 100)).charAt(i % 13);
        MountOptions.Compression zlib = new MountOptions.Compression(CompressionType.ZLIB, 3, false);
        try (Filesystem fs = open(image, zlib)) {
            FsOperations ops = fs.operations();
            InodeId f = create(ops, "f", data);
            List<FileItem> before = fileItems(image, INO);
            assertEquals(1, before.size(), before.toString());
            assertEquals(CompressionType.ZLIB.code(), before.get(0).compression(), "the write was compressed");
            punch(ops, f, 32 * K, 32 * K);
            Arrays.fill(data, 32 * K, 64 * K, (byte) 0);
            assertArrayEquals(data, read(ops, f, data.length));
        }
        List<FileItem> items = fileItems(image, INO);
        long x = items.get(0).diskBytenr();
        long disk = items.get(0).diskNumBytes();
        assertTrue(disk < 128 * K, "compressed extent of " + disk + " bytes");
        int zl = CompressionType.ZLIB.code();
        assertEquals(List.of(
                new FileItem(0, "regular", x, disk, 0, 32 * K, 128 * K, zl),
                new FileItem(64 * K, "regular", x, disk, 64 * K, 64 * K, 128 * K, zl)), items);
        assertEquals(List.of(new DataRef(INO, 0, 2)), refs(image).get(x));
        assertEquals(96 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after a punch inside a compressed extent");
    }

    @Test
    void punchInsidePreallocation_keepsBothEndsPreallocated() throws Exception {
        TestImage image = emptyImage(true);
        try (Filesystem fs = open(image, null)) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(f, 0, 0, 64 * K);
            ops.sync();
            punch(ops, f, 16 * K, 16 * K);
            assertArrayEquals(new byte[64 * K], read(ops, f, 64 * K));
        }
        List<FileItem> items = fileItems(image, INO);
        long x = items.get(0).diskBytenr();
        assertEquals(List.of(
                new FileItem(0, "prealloc", x, 64 * K, 0, 16 * K, -1, 0),
                new FileItem(32 * K, "prealloc", x, 64 * K, 32 * K, 32 * K, -1, 0)), items);
        assertEquals(List.of(new DataRef(INO, 0, 2)), refs(image).get(x));
        assertEquals(48 * K, nbytes(image, INO));
        BtrfsCheck.assertCleanWithData(image.path(), "after a punch inside a preallocated extent");
    }

    @Test
    void cutsOfTheKernel_leaveTheItemsOursLeave() throws Exception {
        Images.requireKernelBtrfs();
        byte[] data = random(64 * K);
        TestImage ours = emptyImage(true);
        try (Filesystem fs = open(ours, null)) {
            FsOperations ops = fs.operations();
            punch(ops, create(ops, "a", data), 16 * K, 16 * K);
            ops.truncate(create(ops, "b", data), 10_000);
            InodeId c = create(ops, "c", data);
            ops.write(c, 16 * K, ByteBuffer.wrap(data, 0, 16 * K));
            ops.sync();
            InodeId d = ops.mknod(ops.root(), "d", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(d, 0, 0, 64 * K);
            ops.sync();
            punch(ops, d, 16 * K, 16 * K);
            InodeId e = create(ops, "e", data);
            ops.fallocate(e, FsOperations.FALLOC_FL_ZERO_RANGE, 16 * K, 16 * K);
            ops.sync();
        }
        TestImage kernel = TestImage.mkfs(dir.resolve("kernel.img"));
        Path src = Files.write(dir.resolve("data"), data);
        Path mnt = kernel.mount("");
        try {
            Shell.sh("""
                    cp %1$s a && cp %1$s b && cp %1$s c && sync
                    fallocate -p -o 16384 -l 16384 a && truncate -s 10000 b
                    dd if=%1$s of=c bs=16384 count=1 seek=1 conv=notrunc status=none && sync
                    fallocate -l 65536 d && sync && fallocate -p -o 16384 -l 16384 d && sync
                    cp %1$s e && sync && fallocate -z -o 16384 -l 16384 e && sync
                    """.formatted(src), mnt);
        } finally {
            kernel.umount();
        }
        for (long ino = INO; ino < INO + 5; ino++) {
            assertEquals(shape(fileItems(kernel, ino)), shape(fileItems(ours, ino)), "file " + ino);
        }
        BtrfsCheck.assertCleanWithData(ours.path(), "after the cuts the kernel made too");
    }

    // ---- helpers ----

    /** A fresh empty image (in-house: no mkfs), as a file dump-tree and btrfs check read. */
    private TestImage emptyImage(boolean noHoles) throws Exception {
        Prereq.requireBinary("btrfs", "apt-get install btrfs-progs");
        Path image = dir.resolve("image-" + System.nanoTime() + ".img");
        EmptyImage.format(System.nanoTime(), 1_700_000_000L, noHoles).writeTo(image);
        return TestImage.existing(image);
    }

    private static Filesystem open(TestImage image, MountOptions.Compression compression) throws Exception {
        MountOptions options = MountOptions.readWriteDefaults().withCommitSeconds(0);
        return Filesystem.open(image.path(), compression == null ? options : options.withCompression(compression));
    }

    /** A new file in the top directory holding {@code data}, committed. */
    private static InodeId create(FsOperations ops, String name, byte[] data) throws Exception {
        InodeId f = ops.mknod(ops.root(), name, Stat.S_IFREG | 0644, 0, 0, 0);
        ops.write(f, 0, ByteBuffer.wrap(data));
        ops.sync();
        return f;
    }

    /**
     * A file of three extents of 16 KiB (each written and committed alone) with [offset, +length) punched out; the
     * bytes read back are checked. Returns the three extents' bytenrs.
     */
    private long[] punchThreeExtents(TestImage image, int offset, int length) throws Exception {
        byte[] data = random(48 * K);
        try (Filesystem fs = open(image, null)) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            for (int at = 0; at < data.length; at += 16 * K) {
                ops.write(f, at, ByteBuffer.wrap(data, at, 16 * K));
                ops.sync();
            }
            long[] extents = fileItems(image, INO).stream().mapToLong(FileItem::diskBytenr).toArray();
            assertEquals(3, extents.length, "three writes, each committed, make three extents");
            punch(ops, f, offset, length);
            Arrays.fill(data, offset, offset + length, (byte) 0);
            assertArrayEquals(data, read(ops, f, data.length));
            return extents;
        }
    }

    private static void punch(FsOperations ops, InodeId f, long offset, long length) throws Exception {
        ops.fallocate(f, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE, offset, length);
        ops.sync();
    }

    private static byte[] read(FsOperations ops, InodeId f, int length) throws Exception {
        byte[] out = new byte[length];
        assertEquals(length, ops.read(f, 0, ByteBuffer.wrap(out)));
        return out;
    }

    private static byte[] random(int length) {
        byte[] b = new byte[length];
        new Random(length).nextBytes(b);
        return b;
    }

    /** The file extent items of inode {@code ino} in the top subvolume, in key order. */
    private static List<FileItem> fileItems(TestImage image, long ino) throws Exception {
        List<FileItem> out = new ArrayList<>();
        for (TestImage.Item item : image.items("5")) {
            if (!item.type().equals("EXTENT_DATA") || Long.parseLong(item.objectid()) != ino) continue;
            out.add(fileItem(item));
        }
        return out;
    }

    private static FileItem fileItem(TestImage.Item item) {
        String type = null;
        long[] f = {0, 0, 0, 0, -1, 0};
        for (String line : item.body()) {
            Matcher m;
            if ((m = TYPE.matcher(line)).find()) {
                type = m.group(1);
            } else if ((m = DISK.matcher(line)).find()) {
                f[0] = Long.parseLong(m.group(1));
                f[1] = Long.parseLong(m.group(2));
            } else if ((m = RANGE.matcher(line)).find()) {
                f[2] = Long.parseLong(m.group(1));
                f[3] = Long.parseLong(m.group(2));
                if (m.group(3) != null) f[4] = Long.parseLong(m.group(3));
            } else if ((m = INLINE.matcher(line)).find()) {
                f[4] = Long.parseLong(m.group(1));
                f[5] = Integer.parseInt(m.group(2));
            } else if ((m = COMPRESSION.matcher(line)).find()) {
                f[5] = Integer.parseInt(m.group(1));
            }
        }
        assertTrue(type != null, "no type in " + item.bodyText());
        return new FileItem(item.offsetValue(), type, f[0], f[1], f[2], f[3], f[4], (int) f[5]);
    }

    /** The data back references of the top subvolume by extent bytenr: inline in extent items, and keyed ones. */
    private static Map<Long, List<DataRef>> refs(TestImage image) throws Exception {
        Map<Long, List<DataRef>> out = new HashMap<>();
        for (TestImage.DataBackref r : image.dataBackrefs()) {
            if (!r.root().equals("FS_TREE")) continue;
            out.computeIfAbsent(r.bytenr(), k -> new ArrayList<>()).add(new DataRef(r.objectid(), r.offset(),
                    r.count()));
        }
        return out;
    }

    /** The inode's nbytes: the bytes its extents hold, which every cut keeps in step. */
    private static long nbytes(TestImage image, long ino) throws Exception {
        for (TestImage.Item item : image.items("5")) {
            if (!item.type().equals("INODE_ITEM") || Long.parseLong(item.objectid()) != ino) continue;
            Matcher m = NBYTES.matcher(item.bodyText());
            assertTrue(m.find(), item.bodyText());
            return Long.parseLong(m.group(2));
        }
        throw new AssertionError("no inode item " + ino);
    }

    /** The items with each disk bytenr replaced by its order of first use in the file (holes keep 0). */
    private static List<String> shape(List<FileItem> items) {
        List<Long> seen = new ArrayList<>();
        List<String> out = new ArrayList<>();
        for (FileItem x : items) {
            if (x.diskBytenr() != 0 && !seen.contains(x.diskBytenr())) seen.add(x.diskBytenr());
            long disk = x.diskBytenr() == 0 ? 0 : seen.indexOf(x.diskBytenr()) + 1;
            out.add(new FileItem(x.key(), x.type(), disk, x.diskNumBytes(), x.offset(), x.numBytes(), x.ramBytes(),
                    x.compression()).toString());
        }
        return out;
    }
}
