package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * btrfs_extent_item (24 bytes): refs 0, generation 8, flags 16; for a non-skinny tree block a btrfs_tree_block_info
 * (key 17 bytes, level u8) follows; then inline back references, each a type byte and: TREE_BLOCK_REF / SHARED_BLOCK_REF
 * an u64 (root or parent); SHARED_DATA_REF an u64 parent and u32 count; EXTENT_DATA_REF a btrfs_extent_data_ref
 * (root, objectid, offset u64, count u32) without a separate offset. Keyed (bytenr, EXTENT_ITEM, length) or
 * (bytenr, METADATA_ITEM, level) for skinny tree blocks.
 */
public record ExtentItem(long refs, long generation, long flags, Key treeBlockKey, int treeBlockLevel,
                         List<InlineRef> inlineRefs) {
    public static final int SIZE = 24;
    public static final int TREE_BLOCK_INFO_SIZE = Key.SIZE + 1;
    public static final long FLAG_DATA = 1L;
    public static final long FLAG_TREE_BLOCK = 2L;
    public static final long FLAG_FULL_BACKREF = 1L << 8;

    /** One inline reference; unused fields are 0. {@code offset} is the root or parent of block/shared refs. */
    public record InlineRef(int type, long offset, long root, long objectid, long fileOffset, int count) {
        public static InlineRef treeBlock(long root) {
            return new InlineRef(KeyType.TREE_BLOCK_REF, root, 0, 0, 0, 1);
        }

        public static InlineRef dataRef(long root, long objectid, long fileOffset, int count) {
            return new InlineRef(KeyType.EXTENT_DATA_REF, 0, root, objectid, fileOffset, count);
        }

        int size() {
            return switch (type) {
                case KeyType.EXTENT_DATA_REF -> 1 + ExtentDataRef.SIZE;
                case KeyType.SHARED_DATA_REF -> 1 + 8 + 4;
                default -> 1 + 8;
            };
        }

        public InlineRef withCount(int newCount) {
            return new InlineRef(type, offset, root, objectid, fileOffset, newCount);
        }
    }

    /**
     * Decodes the item at {@code offset} of {@code size} bytes; {@code skinny} for METADATA_ITEM keys. A size that
     * cannot hold what the flags promise, an inline ref of unknown type or one past the item's end is a
     * {@link MalformedItemException}.
     */
    public static ExtentItem read(ByteBuffer b, int offset, int size, boolean skinny) {
        if (size < SIZE) throw new MalformedItemException("extent item of " + size + " bytes, expected at least " + SIZE);
        long flags = b.getLong(offset + 16);
        int p = offset + SIZE;
        int end = offset + size;
        Key key = null;
        int level = 0;
        if ((flags & FLAG_TREE_BLOCK) != 0 && !skinny) {
            if (p + TREE_BLOCK_INFO_SIZE > end) {
                throw new MalformedItemException("tree block extent item of " + size + " bytes, expected at least "
                        + (SIZE + TREE_BLOCK_INFO_SIZE));
            }
            key = Key.read(b, p);
            level = Byte.toUnsignedInt(b.get(p + Key.SIZE));
            p += TREE_BLOCK_INFO_SIZE;
        }
        List<InlineRef> refs = new ArrayList<>(2);
        while (p < end) {
            int type = Byte.toUnsignedInt(b.get(p));
            int refSize = switch (type) {
                case KeyType.TREE_BLOCK_REF, KeyType.SHARED_BLOCK_REF -> 1 + 8;
                case KeyType.SHARED_DATA_REF -> 1 + 8 + 4;
                case KeyType.EXTENT_DATA_REF -> 1 + ExtentDataRef.SIZE;
                default -> throw new MalformedItemException("inline ref at byte " + (p - offset) + " has type " + type
                        + ", expected TREE_BLOCK_REF, SHARED_BLOCK_REF, EXTENT_DATA_REF or SHARED_DATA_REF");
            };
            if (p + refSize > end) {
                throw new MalformedItemException("inline ref of type " + type + " at byte " + (p - offset) + " needs "
                        + refSize + " bytes, the item has " + (end - p) + " left");
            }
            InlineRef r = switch (type) {
                case KeyType.TREE_BLOCK_REF, KeyType.SHARED_BLOCK_REF -> new InlineRef(type, b.getLong(p + 1), 0, 0, 0, 1);
                case KeyType.SHARED_DATA_REF -> new InlineRef(type, b.getLong(p + 1), 0, 0, 0, b.getInt(p + 9));
                default -> {
                    ExtentDataRef d = ExtentDataRef.read(b, p + 1);
                    yield InlineRef.dataRef(d.root(), d.objectid(), d.offset(), d.count());
                }
            };
            refs.add(r);
            p += refSize;
        }
        return new ExtentItem(b.getLong(offset), b.getLong(offset + 8), flags, key, level, refs);
    }

    public byte[] encode() {
        int size = SIZE + (treeBlockKey != null ? TREE_BLOCK_INFO_SIZE : 0);
        for (InlineRef r : inlineRefs) size += r.size();
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, refs).putLong(8, generation).putLong(16, flags);
        int p = SIZE;
        if (treeBlockKey != null) {
            treeBlockKey.write(b, p);
            b.put(p + Key.SIZE, (byte) treeBlockLevel);
            p += TREE_BLOCK_INFO_SIZE;
        }
        for (InlineRef r : inlineRefs) {
            b.put(p, (byte) r.type());
            switch (r.type()) {
                case KeyType.EXTENT_DATA_REF ->
                        new ExtentDataRef(r.root(), r.objectid(), r.fileOffset(), r.count()).write(b, p + 1);
                case KeyType.SHARED_DATA_REF -> b.putLong(p + 1, r.offset()).putInt(p + 9, r.count());
                default -> b.putLong(p + 1, r.offset());
            }
            p += r.size();
        }
        return b.array();
    }

    public ExtentItem withRefs(long newRefs, List<InlineRef> newInline) {
        return new ExtentItem(newRefs, generation, flags, treeBlockKey, treeBlockLevel, List.copyOf(newInline));
    }
}
