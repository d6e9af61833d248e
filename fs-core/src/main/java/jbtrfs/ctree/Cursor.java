package jbtrfs.ctree;

import java.nio.ByteBuffer;

import jbtrfs.CorruptBlockException;
import jbtrfs.format.Key;
import jbtrfs.format.MalformedItemException;

/**
 * A position on one item of a {@link BTree} (≈ btrfs_path for reading): the blocks and slots from the root down
 * to a leaf. Moves forwards and backwards across leaves. Not thread-safe; one per search.
 */
public final class Cursor {
    private static final int MAX_LEVEL = 8;

    private final BTree tree;
    private final TreeBlock[] blocks = new TreeBlock[MAX_LEVEL];
    private final int[] slots = new int[MAX_LEVEL];
    private boolean valid;

    Cursor(BTree tree) {
        this.tree = tree;
    }

    /** Whether the cursor is on an item. */
    public boolean valid() { return valid; }

    public Key key() { return leaf().key(slots[0]); }

    /** The leaf's buffer (read-only, little-endian, absolute offsets). */
    public ByteBuffer buffer() { return leaf().buffer(); }

    public int dataOffset() { return leaf().itemOffset(slots[0]); }

    public int dataSize() { return leaf().itemSize(slots[0]); }

    public TreeBlock leaf() { return blocks[0]; }

    /** Decodes an item's data: (leaf buffer, absolute offset, size) to a value. */
    @FunctionalInterface
    public interface ItemDecoder<T> {
        T decode(ByteBuffer leaf, int offset, int size);
    }

    /** Decodes a fixed-size item's data: (leaf buffer, absolute offset) to a value. */
    @FunctionalInterface
    public interface FixedDecoder<T> {
        T decode(ByteBuffer leaf, int offset);
    }

    /**
     * Decodes the item here with {@code decoder}; a malformed item (the decoder's {@link MalformedItemException},
     * or a read past the block) is a {@link CorruptBlockException} naming tree, block, slot and key.
     */
    public <T> T decode(ItemDecoder<T> decoder) throws CorruptBlockException {
        try {
            return decoder.decode(buffer(), dataOffset(), dataSize());
        } catch (MalformedItemException | IndexOutOfBoundsException e) {
            throw corrupt(e.getMessage());
        }
    }

    /** {@link #decode} of an item that must hold at least {@code size} bytes (a fixed-size struct). */
    public <T> T decode(int size, FixedDecoder<T> decoder) throws CorruptBlockException {
        if (dataSize() < size) throw corrupt("item of " + dataSize() + " bytes, expected " + size);
        return decode((b, off, n) -> decoder.decode(b, off));
    }

    /** A CorruptBlockException for the item here: {@code problem} with the item's key. */
    public CorruptBlockException corrupt(String problem) {
        return new CorruptBlockException(tree.id(), leaf().bytenr(), slots[0], "item " + key() + ": " + problem);
    }

    public int slot() { return slots[0]; }

    /** Whether the cursor is on an item with exactly {@code key} (compared in the block, no key decoded). */
    public boolean at(Key key) {
        return valid && Key.compareAt(leaf().buffer(), leaf().keyOffset(slots[0]), key) == 0;
    }

    void seek(Key key) throws CorruptBlockException {
        TreeBlock b = tree.readRoot();
        int top = b.level();
        for (int level = top; ; level--) {
            blocks[level] = b;
            int s = b.search(key);
            if (level == 0) {
                slots[0] = s >= 0 ? s : -s - 1;
                valid = true;
                if (slots[0] >= b.nritems()) {
                    slots[0] = b.nritems() - 1;
                    next();
                }
                return;
            }
            // in a node, descend into the last child whose first key is <= key
            int child = s >= 0 ? s : Math.max(0, -s - 2);
            slots[level] = child;
            b = tree.readChild(b, child);
        }
    }

    void seekLast() throws CorruptBlockException {
        TreeBlock b = tree.readRoot();
        for (int level = b.level(); ; level--) {
            blocks[level] = b;
            slots[level] = b.nritems() - 1;
            if (level == 0) break;
            b = tree.readChild(b, slots[level]);
        }
        valid = blocks[0].nritems() > 0;
    }

    /** Moves to the next item; returns false (and becomes invalid) past the last one. */
    public boolean next() throws CorruptBlockException {
        if (!valid) return false;
        if (slots[0] + 1 < blocks[0].nritems()) {
            slots[0]++;
            return true;
        }
        int level = 1;
        while (level < MAX_LEVEL && blocks[level] != null && slots[level] + 1 >= blocks[level].nritems()) level++;
        if (level >= MAX_LEVEL || blocks[level] == null) {
            valid = false;
            return false;
        }
        slots[level]++;
        for (; level > 0; level--) {
            TreeBlock child = tree.readChild(blocks[level], slots[level]);
            blocks[level - 1] = child;
            slots[level - 1] = 0;
        }
        if (blocks[0].nritems() == 0) return next();
        return true;
    }

    /**
     * Moves to the first item of the next leaf; returns false (and becomes invalid) past the last leaf. A walk over
     * a range's leaves climbs only as far as the next leaf's parent, where a seek per leaf starts at the root.
     */
    public boolean nextLeaf() throws CorruptBlockException {
        if (!valid) return false;
        slots[0] = blocks[0].nritems() - 1;
        return next();
    }

    /** Moves to the previous item; returns false (and becomes invalid) before the first one. */
    public boolean prev() throws CorruptBlockException {
        if (!valid) return false;
        if (slots[0] > 0) {
            slots[0]--;
            return true;
        }
        int level = 1;
        while (level < MAX_LEVEL && blocks[level] != null && slots[level] == 0) level++;
        if (level >= MAX_LEVEL || blocks[level] == null) {
            valid = false;
            return false;
        }
        slots[level]--;
        for (; level > 0; level--) {
            TreeBlock child = tree.readChild(blocks[level], slots[level]);
            blocks[level - 1] = child;
            slots[level - 1] = child.nritems() - 1;
        }
        if (blocks[0].nritems() == 0) {
            valid = false;
            return false;
        }
        return true;
    }
}
