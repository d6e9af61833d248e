package jbtrfs.ctree;

import java.nio.ByteBuffer;

import jbtrfs.CorruptBlockException;
import jbtrfs.format.Key;

/**
 * One B-tree (root tree, chunk tree, a subvolume, ...) as of the root pointer it was opened with.
 * Immutable and safe to share between threads; each search makes its own {@link Cursor}.
 */
public final class BTree {
    private final TreeBlockSource reader;
    private final long id;
    private final long rootBytenr;
    private final int rootLevel;
    private final long rootGeneration;

    /**
     * @param id             the tree's objectid (for messages)
     * @param rootGeneration generation the root block must carry, 0 when unknown
     */
    public BTree(TreeBlockSource reader, long id, long rootBytenr, int rootLevel, long rootGeneration) {
        this.reader = reader;
        this.id = id;
        this.rootBytenr = rootBytenr;
        this.rootLevel = rootLevel;
        this.rootGeneration = rootGeneration;
    }

    public long id() { return id; }

    public long rootBytenr() { return rootBytenr; }

    /** A cursor at the first item whose key is {@code >= key} (invalid when there is none). */
    public Cursor seek(Key key) throws CorruptBlockException {
        Cursor c = new Cursor(this);
        c.seek(key);
        return c;
    }

    /** A cursor at the last item whose key is {@code <= key} (invalid when there is none). */
    public Cursor seekFloor(Key key) throws CorruptBlockException {
        Cursor c = new Cursor(this);
        c.seek(key);
        if (c.valid() && c.key().equals(key)) return c;
        if (c.valid()) {
            c.prev();
        } else {
            c.seekLast();
        }
        return c;
    }

    /** A cursor at exactly {@code key}, or null when no item has it. */
    public Cursor find(Key key) throws CorruptBlockException {
        Cursor c = seek(key);
        return c.at(key) ? c : null;
    }

    /**
     * Calls {@code visitor} for every item with {@code from <= key <= to}, in key order, until it returns false.
     */
    public void scan(Key from, Key to, ItemVisitor visitor) throws CorruptBlockException {
        Cursor c = seek(from);
        while (c.valid() && c.key().compareTo(to) <= 0) {
            if (!visitor.visit(c.key(), c.buffer(), c.dataOffset(), c.dataSize())) return;
            c.next();
        }
    }

    /**
     * As {@link #scan}, reading only the children {@code descent} enters (≈ btrfs_search_forward with min_trans: a
     * subtree older than a transaction is skipped unread); the root is always read.
     */
    public void scanEntered(Key from, Key to, Descent descent, ItemVisitor visitor) throws CorruptBlockException {
        scanEntered(readRoot(), from, to, descent, visitor);
    }

    private boolean scanEntered(TreeBlock b, Key from, Key to, Descent descent, ItemVisitor visitor)
            throws CorruptBlockException {
        int s = b.search(from);
        if (b.isLeaf()) {
            for (int i = s >= 0 ? s : -s - 1; i < b.nritems(); i++) {
                Key k = b.key(i);
                if (k.compareTo(to) > 0) return false;
                if (!visitor.visit(k, b.buffer(), b.itemOffset(i), b.itemSize(i))) return false;
            }
            return true;
        }
        // the last child whose first key is <= from holds from; each next child starts at its key
        for (int i = s >= 0 ? s : Math.max(0, -s - 2); i < b.nritems() && b.key(i).compareTo(to) <= 0; i++) {
            if (!descent.enter(b.blockptr(i), b.ptrGeneration(i))) continue;
            if (!scanEntered(readChild(b, i), from, to, descent, visitor)) return false;
        }
        return true;
    }

    TreeBlock readRoot() throws CorruptBlockException {
        return reader.read(rootBytenr, rootGeneration, rootLevel, id);
    }

    TreeBlock readChild(TreeBlock node, int slot) throws CorruptBlockException {
        return reader.read(node.blockptr(slot), node.ptrGeneration(slot), node.level() - 1, id);
    }

    /** Says whether {@link #scanEntered} reads the child at {@code bytenr}, written in {@code generation}. */
    @FunctionalInterface
    public interface Descent {
        boolean enter(long bytenr, long generation);
    }

    /** Receives items during {@link #scan}; returns false to stop. */
    @FunctionalInterface
    public interface ItemVisitor {
        boolean visit(Key key, ByteBuffer leaf, int dataOffset, int dataSize) throws CorruptBlockException;
    }
}
