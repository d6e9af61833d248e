package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.ExtentDataRef;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.testing.EmptyImage;

/**
 * The extent-cutting rules ({@link FileExtents#drop}, ≈ btrfs_drop_extents), driven by hole punches and truncates on
 * the in-memory {@link EmptyImage}: a cut keeps the parts of an extent outside it as items that point into the same
 * extent at adjusted offsets, with one back reference counted per item, and an extent no item names any more is
 * freed. The expected items are what the kernel's Btrfs leaves after {@code fallocate -p} of the same range (seen in
 * dump-tree: regular, compressed and preallocated extents alike); an inline extent is written again instead. Needs
 * nothing outside the JVM: the items are read back through the tree search; {@link FileExtentsTest} reads them with
 * dump-tree, runs btrfs check and compares with the kernel's cuts.
 */
class DropExtentsTest {
    private static final int LENGTH = 64 << 10;
    private static final long ROOT = ObjectIds.FS_TREE;
    private static final int PUNCH = FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE;

    /** A file extent item as the model states it; {@code start} is its key's file offset. */
    record Item(long start, int type, int compression, long diskBytenr, long diskNumBytes, long offset,
                long numBytes) {
        static Item of(long start, FileExtentItem fe) {
            return new Item(start, fe.type(), fe.compression(), fe.diskBytenr(), fe.diskNumBytes(), fe.offset(),
                    fe.numBytes());
        }

        /** The part of this item over [from, to) of the file, pointing into the same extent. */
        Item slice(long from, long to) {
            return new Item(from, type, compression, diskBytenr, diskNumBytes, offset + (from - start), to - from);
        }
    }

    enum Kind { REGULAR, COMPRESSED, PREALLOC }

    @ParameterizedTest(name = "{0} [{1}, {2})")
    @CsvSource({
        "REGULAR, 0, 16384", "REGULAR, 16384, 32768", "REGULAR, 49152, 65536", "REGULAR, 0, 65536",
        "COMPRESSED, 0, 16384", "COMPRESSED, 16384, 32768", "COMPRESSED, 49152, 65536", "COMPRESSED, 0, 65536",
        "PREALLOC, 0, 16384", "PREALLOC, 16384, 32768", "PREALLOC, 49152, 65536", "PREALLOC, 0, 65536"})
    void punch_keepsTheOutsidePartsOfTheSameExtent(Kind kind, long from, long to) throws Exception {
        MemoryBlockDevice dev = device();
        MountOptions options = MountOptions.readWriteDefaults().withCommitSeconds(0);
        if (kind == Kind.COMPRESSED) {
            options = options.withCompression(new MountOptions.Compression(CompressionType.ZLIB, 3, false));
        }
        try (Filesystem fs = Filesystem.open(dev, options)) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] content = new byte[LENGTH];
            if (kind == Kind.PREALLOC) {
                ops.fallocate(f, 0, 0, LENGTH);
            } else {
                if (kind == Kind.REGULAR) new Random(7).nextBytes(content);
                else for (int i = 0; i < LENGTH; i++) content[i] = (byte) ("line " + i / 16 + "\n").charAt(i % 5);
                ops.write(f, 0, ByteBuffer.wrap(content));
            }
            ops.sync();
            List<Item> before = items(ops, f);
            assertEquals(1, before.size(), "one extent before the cut: " + before);
            Item whole = before.get(0);
            assertEquals(kind == Kind.PREALLOC ? FileExtentItem.TYPE_PREALLOC : FileExtentItem.TYPE_REG, whole.type());
            assertEquals(kind == Kind.COMPRESSED ? CompressionType.ZLIB.code() : 0, whole.compression());

            ops.fallocate(f, PUNCH, from, to - from);
            ops.sync();

            List<Item> expected = new ArrayList<>();
            if (from > 0) expected.add(whole.slice(0, from));
            if (to < LENGTH) expected.add(whole.slice(to, LENGTH));
            assertEquals(expected, items(ops, f));
            // each kept item counts once in the one back reference (all point at file offset 0 of the extent)
            Map<String, Long> refs = expected.isEmpty() ? Map.of()
                    : Map.of(ROOT + " " + f.objectid() + " 0", (long) expected.size());
            assertEquals(refs, dataRefs(ops, whole));
            assertEquals(LENGTH - (to - from), inode(ops, f).nbytes());
            Arrays.fill(content, (int) from, (int) to, (byte) 0);
            assertArrayEquals(content, read(ops, f, LENGTH));
        }
    }

    @ParameterizedTest(name = "punch [{0}, {1})")
    @CsvSource({"0, 10", "10, 20", "90, 100"})
    void punchOfInlineExtent_writesTheInlineDataAgain(int from, int to) throws Exception {
        try (Filesystem fs = Filesystem.open(device(), MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = inlineFile(ops);
            byte[] content = read(ops, f, 100);
            ops.fallocate(f, PUNCH, from, to - from);
            ops.sync();
            Arrays.fill(content, from, to, (byte) 0);
            assertInline(ops, f, content);
        }
    }

    @Test
    void truncateOfInlineExtent_keepsItsHead() throws Exception {
        try (Filesystem fs = Filesystem.open(device(), MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = inlineFile(ops);
            byte[] content = read(ops, f, 100);
            ops.truncate(f, 40);
            ops.sync();
            assertInline(ops, f, Arrays.copyOf(content, 40));
        }
    }

    @Test
    void truncateInsideRegularExtent_keepsTheSectorsBelowTheNewSize() throws Exception {
        try (Filesystem fs = Filesystem.open(device(), MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] content = new byte[LENGTH];
            new Random(9).nextBytes(content);
            ops.write(f, 0, ByteBuffer.wrap(content));
            ops.sync();
            Item whole = items(ops, f).get(0);
            // 10,000 bytes lie in the first three sectors: the item keeps those, the extent stays whole on disk
            ops.truncate(f, 10_000);
            ops.sync();
            assertEquals(List.of(whole.slice(0, 12288)), items(ops, f));
            assertEquals(Map.of(ROOT + " " + f.objectid() + " 0", 1L), dataRefs(ops, whole));
            assertEquals(12288, inode(ops, f).nbytes());
            assertArrayEquals(Arrays.copyOf(content, 10_000), read(ops, f, 10_000));
        }
    }

    private static MemoryBlockDevice device() {
        return EmptyImage.device(11);
    }

    /** A file of 100 bytes in one inline extent, committed. */
    private static InodeId inlineFile(FsOperations ops) throws FsException {
        InodeId f = ops.mknod(ops.root(), "small", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] content = new byte[100];
        new Random(5).nextBytes(content);
        ops.write(f, 0, ByteBuffer.wrap(content));
        ops.sync();
        assertEquals(FileExtentItem.TYPE_INLINE, items(ops, f).get(0).type());
        return f;
    }

    /** The file's one item is inline, uncompressed, holds {@code content}, and the inode counts its bytes. */
    private static void assertInline(FsOperations ops, InodeId f, byte[] content) throws FsException {
        List<TreeSearchItem> found = search(ops, ROOT, new Key(f.objectid(), KeyType.EXTENT_DATA, 0),
                new Key(f.objectid(), KeyType.EXTENT_DATA, -1L));
        assertEquals(1, found.size());
        byte[] data = found.get(0).data();
        FileExtentItem fe = FileExtentItem.read(ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN), 0, data.length);
        assertEquals(FileExtentItem.TYPE_INLINE, fe.type());
        assertEquals(0, fe.compression());
        assertEquals(content.length, fe.ramBytes());
        assertArrayEquals(content, Arrays.copyOfRange(data, FileExtentItem.OFFSET_INLINE_DATA, data.length));
        assertEquals(content.length, inode(ops, f).nbytes());
        assertArrayEquals(content, read(ops, f, content.length));
    }

    private static List<Item> items(FsOperations ops, InodeId f) throws FsException {
        List<Item> out = new ArrayList<>();
        for (TreeSearchItem t : search(ops, ROOT, new Key(f.objectid(), KeyType.EXTENT_DATA, 0),
                new Key(f.objectid(), KeyType.EXTENT_DATA, -1L))) {
            ByteBuffer b = ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN);
            out.add(Item.of(t.key().offset(), FileExtentItem.read(b, 0, t.data().length)));
        }
        return out;
    }

    /**
     * The back references of the extent under {@code item}, inline in its extent item or as items of their own, as
     * "root objectid offset" to count; empty when the extent item is gone. Its refs field must be their sum.
     */
    private static Map<String, Long> dataRefs(FsOperations ops, Item item) throws FsException {
        Map<String, Long> out = new TreeMap<>();
        long refs = 0;
        for (TreeSearchItem t : search(ops, ObjectIds.EXTENT_TREE, new Key(item.diskBytenr(), 0, 0),
                new Key(item.diskBytenr(), 255, -1L))) {
            ByteBuffer b = ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN);
            if (t.key().type() == KeyType.EXTENT_ITEM) {
                assertEquals(item.diskNumBytes(), t.key().offset(), "the extent item's length");
                ExtentItem e = ExtentItem.read(b, 0, t.data().length, false);
                refs = e.refs();
                for (ExtentItem.InlineRef r : e.inlineRefs()) {
                    out.merge(r.root() + " " + r.objectid() + " " + r.fileOffset(), (long) r.count(), Long::sum);
                }
            } else if (t.key().type() == KeyType.EXTENT_DATA_REF) {
                ExtentDataRef r = ExtentDataRef.read(b, 0);
                out.merge(r.root() + " " + r.objectid() + " " + r.offset(), (long) r.count(), Long::sum);
            }
        }
        assertEquals(out.values().stream().mapToLong(Long::longValue).sum(), refs, "the extent item's refs");
        return out;
    }

    private static InodeItem inode(FsOperations ops, InodeId f) throws FsException {
        Key k = new Key(f.objectid(), KeyType.INODE_ITEM, 0);
        byte[] data = search(ops, ROOT, k, k).get(0).data();
        return InodeItem.read(ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN), 0);
    }

    private static List<TreeSearchItem> search(FsOperations ops, long tree, Key min, Key max) throws FsException {
        return ops.treeSearch(tree, min, max, 0, -1L, 4096, 1 << 20);
    }

    private static byte[] read(FsOperations ops, InodeId f, int length) throws FsException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ops.read(f, b.position(), b) <= 0) break;
        }
        return b.array();
    }
}
