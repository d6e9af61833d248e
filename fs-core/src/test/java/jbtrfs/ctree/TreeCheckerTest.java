package jbtrfs.ctree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import jbtrfs.CorruptBlockException;
import jbtrfs.csum.NameHash;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.DirItem;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Header;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyPtr;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.Timespec;

/**
 * The write-time tree checker on hand-made blocks: a good leaf with one item of each checked type passes, and each
 * case spoils one field (of the header, the layout or one item) and must be refused with the tree, the block, the
 * slot and what was expected.
 */
class TreeCheckerTest {
    private static final int NODESIZE = 16384;
    private static final long BYTENR = 30 << 20;
    private static final long TRANSID = 10;
    private static final long OWNER = ObjectIds.FS_TREE;
    private static final int CSUM_SIZE = 4;
    private static final byte[] FSID = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final long MIB = 1 << 20;

    /** An item of the good leaf; cases replace some. */
    record It(Key key, byte[] data) {
    }

    /** One damaged block: what changes, and where and what the checker must say. */
    record Case(String name, Consumer<List<It>> items, Consumer<ByteBuffer> block, int slot, String says) {
    }

    @Test
    void goodLeafAndNode_pass() throws Exception {
        check(leaf(goodItems()), OWNER, 0);
        check(node(), OWNER, 1);
        // an empty leaf is fine for a tree that may be empty (csum), not for one that never is
        ByteBuffer empty = leaf(List.of());
        check(empty.putLong(Header.OFFSET_OWNER, ObjectIds.CSUM_TREE), ObjectIds.CSUM_TREE, 0);
    }

    @TestFactory
    Stream<DynamicTest> eachBadField_isRefusedWithItsSlot() {
        List<Case> cases = new ArrayList<>();
        // header and layout (the read-time checks, with this transaction's generation and the block's owner)
        cases.add(block("header bytenr", b -> b.putLong(Header.OFFSET_BYTENR, BYTENR + NODESIZE), -1,
                "header bytenr is " + (BYTENR + NODESIZE) + ", expected " + BYTENR));
        cases.add(block("header generation", b -> b.putLong(Header.OFFSET_GENERATION, TRANSID - 1), -1,
                "generation is 9, expected 10"));
        cases.add(block("header owner", b -> b.putLong(Header.OFFSET_OWNER, 7), -1, "header owner is 7, expected 5"));
        cases.add(block("header fsid", b -> b.put(Header.OFFSET_FSID + 3, (byte) 0), -1, "fsid does not match"));
        cases.add(block("header level", b -> b.put(Header.OFFSET_LEVEL, (byte) 1), -1, "level is 1, expected 0"));
        cases.add(block("header nritems", b -> b.putInt(Header.OFFSET_NRITEMS, 1000), -1,
                "nritems 1000 does not fit"));
        cases.add(block("keys out of order", b -> keyOf(b, 3).write(b, Header.SIZE + 4 * Item.SIZE), 4,
                "is not above the previous key"));
        cases.add(block("item data overlaps the next", b -> b.putInt(Header.SIZE + 2 * Item.SIZE
                + Item.OFFSET_DATA_OFFSET, b.getInt(Header.SIZE + 2 * Item.SIZE + Item.OFFSET_DATA_OFFSET) + 1), 2,
                "data ends at"));
        cases.add(block("empty root tree leaf", b -> {
            b.putInt(Header.OFFSET_NRITEMS, 0).putLong(Header.OFFSET_OWNER, ObjectIds.ROOT_TREE);
        }, -1, "empty leaf"));
        // items
        cases.add(data("dev item size", 0, d -> resize(d, 97), "dev item size is 97, expected 98"));
        cases.add(data("dev item devid", 0, d -> d.putLong(0, 2), "dev item devid is 2, expected the key offset 1"));
        cases.add(data("dev item bytes_used", 0, d -> d.putLong(16, 2L << 30), "bytes_used is 2147483648"));
        cases.add(data("root item size", 1, d -> resize(d, 300), "root item size is 300, expected 439 or 239"));
        cases.add(data("root item level", 1, d -> d.put(238, (byte) 8), "root item level is 8, expected below 8"));
        cases.add(data("root item generation", 1, d -> d.putLong(RootItem.OFFSET_GENERATION, TRANSID + 1),
                "root item generation is 11, expected at most 10"));
        cases.add(data("inode item size", 2, d -> resize(d, 159), "inode item size is 159, expected 160"));
        cases.add(data("inode mode", 2, d -> d.putInt(52, 0755), "inode mode is 0755, expected a file type"));
        cases.add(data("directory nlink", 2, d -> d.putInt(40, 2), "directory nlink is 2, expected at most 1"));
        cases.add(data("inode generation", 2, d -> d.putLong(0, TRANSID + 1), "inode generation is 11"));
        cases.add(data("inode ref name_len", 3, d -> d.putShort(8, (short) 3), "inode ref name of 3 bytes"));
        cases.add(data("dir item name_len", 4, d -> d.putShort(27, (short) 200), "dir item name_len 200 + data_len 0"
                + " end at byte 230, expected at most 33"));
        cases.add(data("dir item data_len", 4, d -> d.putShort(25, (short) 1),
                "dir item name_len 3 + data_len 1 end at byte 34, expected at most 33"));
        cases.add(data("dir item xattr type", 4, d -> d.put(29, (byte) DirItem.FT_XATTR),
                "dir item type is 8 (xattr), expected a file type"));
        cases.add(data("dir item type", 4, d -> d.put(29, (byte) 9), "dir item type is 9, expected 1 to 8"));
        cases.add(data("dir item type unknown", 4, d -> d.put(29, (byte) 0), "dir item type is 0, expected 1 to 8"));
        cases.add(data("dir item location", 4, d -> d.put(Key.OFFSET_TYPE, (byte) KeyType.DIR_ITEM),
                "location key type is 84, expected INODE_ITEM or ROOT_ITEM"));
        cases.add(new Case("dir item name hash", items -> {
            It it = items.get(4);
            items.set(4, new It(new Key(256, KeyType.DIR_ITEM, NameHash.of(bytes("foo")) + 1), it.data()));
        }, null, 4, "name hash is " + NameHash.of(bytes("foo")) + ", expected the key offset"));
        cases.add(data("dir index of two entries", 5, d -> {
            byte[] two = new byte[d.capacity() * 2];
            d.get(0, two, 0, d.capacity());
            d.get(0, two, d.capacity(), d.capacity());
            d.replace(two);
        }, "dir index holds 2 entries, expected 1"));
        cases.add(data("chunk num_stripes", 6, d -> d.putShort(44, (short) 2), "chunk item size is 80, expected 112"));
        cases.add(data("chunk length", 6, d -> d.putLong(0, 0), "chunk length is 0"));
        cases.add(data("xattr type", 8, d -> d.put(29, (byte) DirItem.FT_REG_FILE),
                "xattr item type is 1, expected 8"));
        cases.add(data("file extent size", 9, d -> resize(d, 52), "file extent item size is 52, expected 53"));
        cases.add(data("file extent type", 9, d -> d.put(20, (byte) 3), "file extent type is 3, expected at most 2"));
        cases.add(data("file extent compression", 9, d -> d.put(16, (byte) 4), "compression is 4, expected below 4"));
        cases.add(data("prealloc compressed", 9, d -> d.put(20, (byte) 2).put(16, (byte) 1),
                "prealloc extent compression is 1, expected 0"));
        cases.add(data("inline ram_bytes", 10, d -> d.putLong(8, 6), "inline extent of 5 data bytes, ram_bytes 6"));
        cases.add(data("extent item inline ref past the item", 11, d -> resize(d, d.capacity() - 1),
                "inline ref at byte 24 ends at 53, expected at most 52"));
        cases.add(data("extent item inline ref type", 11, d -> d.put(24, (byte) 0),
                "inline ref type is 0 at byte 24, expected a back reference type"));
        cases.add(data("extent item refs", 11, d -> d.putLong(0, 0),
                "extent refs is 0, expected at least the inline refs' 1"));
        cases.add(data("data ref in a tree block", 12, d -> d.put(24, (byte) KeyType.EXTENT_DATA_REF),
                "inline ref type 178 at byte 24 in a tree block extent"));
        cases.add(data("metadata item flags", 12, d -> d.putLong(16, ExtentItem.FLAG_DATA),
                "metadata item flags are 0x1, expected TREE_BLOCK"));
        cases.add(data("block group used", 13, d -> d.putLong(0, 9 * MIB), "block group used is 9437184, expected "
                + "at most its length 8388608"));
        cases.add(data("block group chunk_objectid", 13, d -> d.putLong(8, 5),
                "block group chunk_objectid is 5, expected 256"));
        cases.add(data("block group type", 13, d -> d.putLong(16, BlockGroupFlags.DATA | BlockGroupFlags.SYSTEM),
                "block group type is 0x3"));
        cases.add(data("csum item size", 14, d -> resize(d, 6), "csum item size is 6, expected a multiple of 4"));
        return cases.stream().map(c -> dynamicTest(c.name(), () -> {
            List<It> items = goodItems();
            if (c.items() != null) c.items().accept(items);
            ByteBuffer b = leaf(items);
            if (c.block() != null) c.block().accept(b);
            long owner = b.getLong(Header.OFFSET_OWNER) == ObjectIds.ROOT_TREE ? ObjectIds.ROOT_TREE : OWNER;
            CorruptBlockException e = assertThrows(CorruptBlockException.class, () -> check(b, owner, 0));
            assertEquals(owner, e.root());
            assertEquals(BYTENR, e.bytenr());
            assertEquals(c.slot(), e.slot(), e.getMessage());
            assertTrue(e.getMessage().contains(c.says()), e.getMessage());
        }));
    }

    @Test
    void nodePointers_areChecked() throws Exception {
        ByteBuffer zero = node();
        zero.putLong(Header.SIZE + KeyPtr.SIZE + KeyPtr.OFFSET_BLOCKPTR, 0);
        CorruptBlockException e = assertThrows(CorruptBlockException.class, () -> check(zero, OWNER, 1));
        assertEquals(1, e.slot());
        assertTrue(e.getMessage().contains("key pointer blockptr is 0"), e.getMessage());
        ByteBuffer future = node();
        future.putLong(Header.SIZE + KeyPtr.OFFSET_GENERATION, TRANSID + 1);
        e = assertThrows(CorruptBlockException.class, () -> check(future, OWNER, 1));
        assertEquals(0, e.slot());
        assertTrue(e.getMessage().contains("key pointer generation is 11, expected 1..10"), e.getMessage());
    }

    private static void check(ByteBuffer b, long owner, int level) throws CorruptBlockException {
        TreeChecker.checkBeforeWrite(b, BYTENR, FSID, NODESIZE, TRANSID, owner, level, CSUM_SIZE);
    }

    private static Case block(String name, Consumer<ByteBuffer> change, int slot, String says) {
        return new Case(name, null, change, slot, says);
    }

    /** A case that changes the data of item {@code slot} (through a buffer that may be resized or replaced). */
    private static Case data(String name, int slot, Consumer<Data> change, String says) {
        return new Case(name, items -> {
            Data d = new Data(items.get(slot).data());
            change.accept(d);
            items.set(slot, new It(items.get(slot).key(), d.bytes()));
        }, null, slot, says);
    }

    /** An item's data under change: a little-endian buffer whose length a case may change. */
    static final class Data {
        private ByteBuffer b;

        Data(byte[] bytes) {
            b = ByteBuffer.wrap(bytes.clone()).order(ByteOrder.LITTLE_ENDIAN);
        }

        int capacity() { return b.capacity(); }

        Data putLong(int at, long v) { b.putLong(at, v); return this; }

        Data putInt(int at, int v) { b.putInt(at, v); return this; }

        Data putShort(int at, short v) { b.putShort(at, v); return this; }

        Data put(int at, byte v) { b.put(at, v); return this; }

        void get(int at, byte[] dst, int off, int len) { b.get(at, dst, off, len); }

        byte[] bytes() { return b.array(); }

        void replace(byte[] bytes) { b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN); }
    }

    private static void resize(Data d, int size) {
        byte[] out = new byte[size];
        d.get(0, out, 0, Math.min(size, d.capacity()));
        d.replace(out);
    }

    private static Key keyOf(ByteBuffer b, int slot) {
        return Key.read(b, Header.SIZE + slot * Item.SIZE);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** One item of each type the checker knows, in key order (slots 0 to 14). */
    private static List<It> goodItems() {
        List<It> items = new ArrayList<>();
        ByteBuffer dev = le(98).putLong(0, 1).putLong(8, 1L << 30).putLong(16, 100 * MIB);
        items.add(new It(new Key(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM, 1), dev.array()));
        items.add(new It(new Key(5, KeyType.ROOT_ITEM, 0), RootItem.encodeNewTree(2 * MIB, TRANSID, NODESIZE)));
        items.add(new It(new Key(256, KeyType.INODE_ITEM, 0), inode(0040755, 1)));
        ByteBuffer ref = le(12).putLong(0, 0).putShort(8, (short) 2).put(10, (byte) '.').put(11, (byte) '.');
        items.add(new It(new Key(256, KeyType.INODE_REF, 256), ref.array()));
        byte[] entry = new DirItem(new Key(257, KeyType.INODE_ITEM, 0), TRANSID, DirItem.FT_REG_FILE, bytes("foo"),
                new byte[0]).encode();
        items.add(new It(new Key(256, KeyType.DIR_ITEM, NameHash.of(bytes("foo"))), entry));
        items.add(new It(new Key(256, KeyType.DIR_INDEX, 2), entry));
        ByteBuffer chunk = le(80).putLong(0, 8 * MIB).putLong(8, ObjectIds.EXTENT_TREE).putLong(16, 64 << 10)
                .putLong(24, BlockGroupFlags.DATA).putInt(32, 4096).putInt(36, 4096).putInt(40, 4096)
                .putShort(44, (short) 1).putLong(48, 1).putLong(56, MIB);
        items.add(new It(new Key(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, MIB), chunk.array()));
        items.add(new It(new Key(257, KeyType.INODE_ITEM, 0), inode(0100644, 1)));
        byte[] xattr = new DirItem(new Key(0, 0, 0), TRANSID, DirItem.FT_XATTR, bytes("user.a"), bytes("v")).encode();
        items.add(new It(new Key(257, KeyType.XATTR_ITEM, NameHash.of(bytes("user.a"))), xattr));
        items.add(new It(new Key(257, KeyType.EXTENT_DATA, 0), FileExtentItem.encodeRegular(TRANSID,
                FileExtentItem.TYPE_REG, MIB, 4096, 0, 4096, 4096)));
        items.add(new It(new Key(258, KeyType.EXTENT_DATA, 0), FileExtentItem.encodeInline(TRANSID, bytes("hello"))));
        items.add(new It(new Key(MIB, KeyType.EXTENT_ITEM, 4096), new ExtentItem(1, TRANSID, ExtentItem.FLAG_DATA,
                null, 0, List.of(ExtentItem.InlineRef.dataRef(5, 257, 0, 1))).encode()));
        items.add(new It(new Key(2 * MIB, KeyType.METADATA_ITEM, 0), new ExtentItem(1, TRANSID,
                ExtentItem.FLAG_TREE_BLOCK, null, 0, List.of(ExtentItem.InlineRef.treeBlock(5))).encode()));
        items.add(new It(new Key(4 * MIB, KeyType.BLOCK_GROUP_ITEM, 8 * MIB),
                new BlockGroupItem(4096, ObjectIds.FIRST_CHUNK_TREE, BlockGroupFlags.DATA).encode()));
        items.add(new It(new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, MIB), new byte[2 * CSUM_SIZE]));
        return items;
    }

    private static byte[] inode(int mode, int nlink) {
        Timespec t = new Timespec(1, 0);
        return new InodeItem(TRANSID, TRANSID, 0, 0, 0, nlink, 0, 0, mode, 0, 0, 0, t, t, t, t).encode();
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer header(int level, int nritems) {
        ByteBuffer b = le(NODESIZE);
        b.put(Header.OFFSET_FSID, FSID).putLong(Header.OFFSET_BYTENR, BYTENR).putLong(Header.OFFSET_GENERATION, TRANSID)
                .putLong(Header.OFFSET_OWNER, OWNER).putInt(Header.OFFSET_NRITEMS, nritems)
                .put(Header.OFFSET_LEVEL, (byte) level);
        return b;
    }

    /** A leaf as the kernel lays it out: headers from the front, data packed from the end in key order. */
    private static ByteBuffer leaf(List<It> items) {
        ByteBuffer b = header(0, items.size());
        int end = NODESIZE - Header.SIZE;
        for (int i = 0; i < items.size(); i++) {
            It it = items.get(i);
            int at = Header.SIZE + i * Item.SIZE;
            end -= it.data().length;
            it.key().write(b, at + Item.OFFSET_KEY);
            b.putInt(at + Item.OFFSET_DATA_OFFSET, end).putInt(at + Item.OFFSET_DATA_SIZE, it.data().length);
            b.put(Header.SIZE + end, it.data());
        }
        return b;
    }

    private static ByteBuffer node() {
        ByteBuffer b = header(1, 2);
        for (int i = 0; i < 2; i++) {
            int at = Header.SIZE + i * KeyPtr.SIZE;
            new Key(256 + i, KeyType.INODE_ITEM, 0).write(b, at + KeyPtr.OFFSET_KEY);
            b.putLong(at + KeyPtr.OFFSET_BLOCKPTR, BYTENR + (i + 1) * NODESIZE)
                    .putLong(at + KeyPtr.OFFSET_GENERATION, TRANSID - i);
        }
        return b;
    }
}
