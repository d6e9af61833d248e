package jbtrfs.ctree;

import java.nio.ByteBuffer;

import jbtrfs.CorruptBlockException;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyPtr;
import jbtrfs.format.MalformedItemException;

/**
 * A verified tree block (≈ extent_buffer): an immutable view of {@code nodesize} bytes read from {@code bytenr}.
 * Leaves hold items whose data packs from the end; nodes hold key pointers to children one level down.
 */
public final class TreeBlock {
    private final long bytenr;
    private final ByteBuffer buf;

    /** Wraps {@code nodesize} little-endian bytes read from (or written for) {@code bytenr}. */
    public TreeBlock(long bytenr, ByteBuffer littleEndianReadOnly) {
        this.bytenr = bytenr;
        this.buf = littleEndianReadOnly;
    }

    public long bytenr() { return bytenr; }

    /** The whole block, read-only and little-endian; absolute offsets. */
    public ByteBuffer buffer() { return buf; }

    public int nritems() { return buf.getInt(Header.OFFSET_NRITEMS); }

    public int level() { return Byte.toUnsignedInt(buf.get(Header.OFFSET_LEVEL)); }

    public boolean isLeaf() { return level() == 0; }

    public long owner() { return buf.getLong(Header.OFFSET_OWNER); }

    public long generation() { return buf.getLong(Header.OFFSET_GENERATION); }

    public long headerBytenr() { return buf.getLong(Header.OFFSET_BYTENR); }

    public long flags() { return buf.getLong(Header.OFFSET_FLAGS); }

    /** Byte offset of slot {@code slot}'s key (item or key pointer). */
    int keyOffset(int slot) {
        return Header.SIZE + slot * (isLeaf() ? Item.SIZE : KeyPtr.SIZE);
    }

    public Key key(int slot) { return Key.read(buf, keyOffset(slot)); }

    /** In a leaf: absolute offset of the item's data. */
    public int itemOffset(int slot) {
        return Header.SIZE + buf.getInt(Header.SIZE + slot * Item.SIZE + Item.OFFSET_DATA_OFFSET);
    }

    /** In a leaf: size of the item's data. */
    public int itemSize(int slot) {
        return buf.getInt(Header.SIZE + slot * Item.SIZE + Item.OFFSET_DATA_SIZE);
    }

    /** In a leaf: the EXTENT_DATA item in {@code slot}; one that does not decode makes this block corrupt. */
    public FileExtentItem fileExtent(int slot) throws CorruptBlockException {
        try {
            return FileExtentItem.read(buf, itemOffset(slot), itemSize(slot));
        } catch (MalformedItemException e) {
            throw new CorruptBlockException(owner(), bytenr, slot, "item " + key(slot) + ": " + e.getMessage());
        }
    }

    /** In a node: the child's bytenr. */
    public long blockptr(int slot) {
        return buf.getLong(Header.SIZE + slot * KeyPtr.SIZE + KeyPtr.OFFSET_BLOCKPTR);
    }

    /** In a node: the generation the child was written in. */
    public long ptrGeneration(int slot) {
        return buf.getLong(Header.SIZE + slot * KeyPtr.SIZE + KeyPtr.OFFSET_GENERATION);
    }

    /**
     * Binary search for {@code key}: its slot if present, else {@code -(insertion point) - 1}
     * as {@link java.util.Arrays#binarySearch} does.
     */
    public int search(Key key) {
        int lo = 0;
        int hi = nritems() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = Key.compareAt(buf, keyOffset(mid), key);
            if (c < 0) lo = mid + 1;
            else if (c > 0) hi = mid - 1;
            else return mid;
        }
        return -(lo + 1);
    }
}
