package jbtrfs.ctree;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyPtr;

/**
 * Copy-on-write changes to one B-tree inside a transaction (≈ ctree.c's insert and delete paths). Every block on
 * the path from the root is copied to a new address unless this transaction already copied it (then it is
 * changed in place); leaves and nodes that overflow split, and ones that fall under a quarter full merge into a
 * sibling when the two fit in one block. Parent keys always equal their child's first key.
 *
 * <p>Each changed block is decoded to a list of items or pointers, edited, and encoded again: simple and plainly
 * correct, at the price of a copy of the block per change. Not thread-safe: one transaction, one editor.
 */
public final class TreeEditor {
    /** Header flags of a new block: not yet WRITTEN, backref revision 1 ("mixed") in the top byte. */
    static final long NEW_BLOCK_FLAGS = 1L << 56;

    private final TreeBlockStore store;
    private final int nodesize;
    private final long transid;
    private final TreeBlockCodec codec;

    public TreeEditor(TreeBlockStore store, int nodesize, long transid, byte[] fsid, byte[] chunkTreeUuid) {
        this.store = store;
        this.nodesize = nodesize;
        this.transid = transid;
        this.codec = new TreeBlockCodec(nodesize, transid, fsid, chunkTreeUuid);
    }

    /** An item of a leaf. */
    record LeafItem(Key key, byte[] data) {
    }

    /** A key pointer of a node. */
    record NodePtr(Key key, long blockptr, long generation) {
    }

    /** Bytes a leaf has for item headers and data. */
    int leafCapacity() { return nodesize - Header.SIZE; }

    /** Key pointers a node holds. */
    int nodeCapacity() { return (nodesize - Header.SIZE) / KeyPtr.SIZE; }

    /** Creates an empty leaf as the root of a new tree {@code owner}. */
    public TreeRoot createTree(long owner) throws FsException {
        long bytenr = store.allocate(owner, 0);
        store.putDirty(bytenr, codec.encodeLeaf(bytenr, owner, List.of()));
        return new TreeRoot(owner, bytenr, 0, transid);
    }

    /**
     * Inserts an item. The key already there is a damaged tree (our callers insert only what they found absent,
     * as the kernel's btrfs_insert_item does): {@link CorruptBlockException}, EUCLEAN-like, naming the leaf and
     * slot. An item that can never fit a leaf is {@link Errno#EINVAL}.
     */
    public void insert(TreeRoot root, Key key, byte[] data) throws FsException {
        checkFits(data);
        List<NodePtr> top = insert(root.owner(), root.bytenr(), root.generation(), root.level(), key, data, false);
        setRoot(root, top, root.level());
    }

    /**
     * Sets the data of the item with {@code key}, inserting it when absent (the item may grow or shrink).
     */
    public void put(TreeRoot root, Key key, byte[] data) throws FsException {
        checkFits(data);
        List<NodePtr> top = insert(root.owner(), root.bytenr(), root.generation(), root.level(), key, data, true);
        setRoot(root, top, root.level());
    }

    private void checkFits(byte[] data) throws FsException {
        if (Item.SIZE + data.length > leafCapacity()) {
            throw new FsException(Errno.EINVAL, "an item of " + data.length + " bytes does not fit a " + nodesize
                    + "-byte leaf");
        }
    }

    /** The key of an insert is already in the leaf at {@code slot}. */
    private static CorruptBlockException exists(long owner, long bytenr, int slot, Key key) {
        return new CorruptBlockException(owner, bytenr, slot, "key " + key + " already exists (insert of a new item)");
    }

    /** The largest item data a leaf can hold. */
    public int maxItemData() { return leafCapacity() - Item.SIZE; }

    /** Deletes the item with {@code key}; returns whether there was one. */
    public boolean delete(TreeRoot root, Key key) throws FsException {
        if (!contains(root, key)) return false;
        deletePresent(root, key);
        return true;
    }

    /**
     * Deletes the item with {@code key}, which the caller found in this tree under the same lock: without the
     * read-only walk {@link #delete} makes first (so as to copy nothing for a missing key). A missing key is a
     * damaged tree: {@link CorruptBlockException}.
     */
    public void deletePresent(TreeRoot root, Key key) throws FsException {
        List<NodePtr> top = delete(root.owner(), root.bytenr(), root.generation(), root.level(), key, true);
        int level = root.level();
        // a root node with one child hands the root to that child
        while (level > 0 && top.size() == 1) {
            TreeBlock node = store.read(top.get(0).blockptr(), top.get(0).generation(), level, root.owner());
            // counted before decoded: this runs at every delete, and a root of hundreds of pointers rarely has one
            if (node.nritems() != 1) break;
            store.free(node.bytenr(), root.owner(), level);
            top = TreeBlockCodec.decodeNode(node);
            level--;
        }
        setRoot(root, top, level);
    }

    private void setRoot(TreeRoot root, List<NodePtr> top, int level) throws FsException {
        while (top.size() > 1) {
            // the root split: a new root one level up points at the pieces
            level++;
            top = writeNode(store.allocate(root.owner(), level), root.owner(), level, top);
        }
        root.set(top.get(0).blockptr(), level, top.get(0).generation());
    }

    private List<NodePtr> insert(long owner, long bytenr, long gen, int level, Key key, byte[] data,
                                 boolean replace) throws FsException {
        TreeBlock b = cow(store.read(bytenr, gen, level, owner), owner);
        long target = b.bytenr();
        if (level == 0) {
            if (insertInPlace(target, key, data, replace, owner)) return List.of(ptr(b));
            List<LeafItem> items = TreeBlockCodec.decodeLeaf(b);
            int pos = position(items, key);
            if (pos < items.size() && items.get(pos).key().equals(key)) {
                if (!replace) throw exists(owner, target, pos, key);
                items.set(pos, new LeafItem(key, data.clone()));
            } else {
                items.add(pos, new LeafItem(key, data.clone()));
            }
            return writeLeaf(target, owner, items);
        }
        int child = childSlot(b, key);
        List<NodePtr> repl = insert(owner, b.blockptr(child), b.ptrGeneration(child), level - 1, key, data, replace);
        if (unchangedAt(b, child, repl) || setPtrInPlace(target, child, repl)) return List.of(ptr(b));
        List<NodePtr> ptrs = TreeBlockCodec.decodeNode(b);
        ptrs.remove(child);
        ptrs.addAll(child, repl);
        return writeNode(target, owner, level, ptrs);
    }

    /**
     * Points slot {@code slot} of a node this transaction already owns at the one block in {@code repl} (the child
     * was copied, or its first key changed). False, nothing changed, when the child came back as several blocks.
     */
    private boolean setPtrInPlace(long bytenr, int slot, List<NodePtr> repl) {
        if (repl.size() != 1) return false;
        ByteBuffer buf = store.dirty(bytenr);
        NodePtr p = repl.get(0);
        int at = Header.SIZE + slot * KeyPtr.SIZE;
        p.key().write(buf, at + KeyPtr.OFFSET_KEY);
        buf.putLong(at + KeyPtr.OFFSET_BLOCKPTR, p.blockptr());
        buf.putLong(at + KeyPtr.OFFSET_GENERATION, p.generation());
        store.putDirty(bytenr, buf);
        return true;
    }

    /**
     * Removes an item straight from a leaf this transaction already owns when it is not the only one (a new first
     * key goes up to the parent through the pointer the caller returns). False when that does not apply.
     */
    private boolean deleteInPlace(long bytenr, Key key) {
        ByteBuffer buf = store.dirty(bytenr);
        if (buf == null) return false;
        TreeBlock leaf = new TreeBlock(bytenr, buf);
        int n = leaf.nritems();
        int pos = leaf.search(key);
        if (pos < 0 || n < 2) return false;
        int len = leaf.itemSize(pos);
        int lowest = leaf.itemOffset(n - 1);
        int gone = leaf.itemOffset(pos);
        // the data of the items after it (lower in the block) moves up over the hole; their headers one slot down
        if (pos < n - 1) {
            buf.put(lowest + len, buf, lowest, gone - lowest);
            for (int i = pos + 1; i < n; i++) {
                int at = Header.SIZE + i * Item.SIZE + Item.OFFSET_DATA_OFFSET;
                buf.putInt(at, buf.getInt(at) + len);
            }
            int headers = Header.SIZE + pos * Item.SIZE;
            buf.put(headers, buf, headers + Item.SIZE, (n - 1 - pos) * Item.SIZE);
        }
        int last = Header.SIZE + (n - 1) * Item.SIZE;
        for (int i = 0; i < Item.SIZE; i++) buf.put(last + i, (byte) 0);
        buf.putInt(Header.OFFSET_NRITEMS, n - 1);
        store.putDirty(bytenr, buf);
        return true;
    }

    /** Whether a child came back as itself: same block, same first key, already this transaction's. */
    private boolean unchanged(NodePtr before, List<NodePtr> after) {
        return after.size() == 1 && after.get(0).blockptr() == before.blockptr()
                && after.get(0).key().equals(before.key()) && before.generation() == transid;
    }

    /** {@link #unchanged} of the pointer at {@code slot} of {@code node}, read in place (no key decoded). */
    private boolean unchangedAt(TreeBlock node, int slot, List<NodePtr> after) {
        return after.size() == 1 && after.get(0).blockptr() == node.blockptr(slot)
                && node.ptrGeneration(slot) == transid
                && Key.compareAt(node.buffer(), node.keyOffset(slot), after.get(0).key()) == 0;
    }

    /**
     * Inserts (or replaces with same-sized data) an item straight into a leaf this transaction already owns, when
     * it fits: no decode and encode of the whole leaf (a new first key goes up through the returned pointer).
     * False when that does not apply; nothing changed then.
     */
    private boolean insertInPlace(long bytenr, Key key, byte[] data, boolean replace, long owner)
            throws CorruptBlockException {
        ByteBuffer buf = store.dirty(bytenr);
        if (buf == null) return false;
        TreeBlock leaf = new TreeBlock(bytenr, buf);
        int n = leaf.nritems();
        int found = leaf.search(key);
        if (found >= 0) {
            if (!replace) throw exists(owner, bytenr, found, key);
            if (leaf.itemSize(found) != data.length) return false;
            buf.put(leaf.itemOffset(found), data);
            store.putDirty(bytenr, buf);
            return true;
        }
        int pos = -found - 1;
        int lowest = n == 0 ? nodesize : leaf.itemOffset(n - 1);
        int free = lowest - (Header.SIZE + n * Item.SIZE);
        if (Item.SIZE + data.length > free) return false;
        // item 0's data ends the block, each next item's lies below the one before
        int newEnd = pos == n ? lowest : pos == 0 ? nodesize : leaf.itemOffset(pos - 1);
        // items pos.. keep their data below the new item's: move it down, and their headers one slot up
        if (pos < n) {
            buf.put(lowest - data.length, buf, lowest, newEnd - lowest);
            for (int i = pos; i < n; i++) {
                int at = Header.SIZE + i * Item.SIZE + Item.OFFSET_DATA_OFFSET;
                buf.putInt(at, buf.getInt(at) - data.length);
            }
            int headers = Header.SIZE + pos * Item.SIZE;
            buf.put(headers + Item.SIZE, buf, headers, (n - pos) * Item.SIZE);
        }
        int h = Header.SIZE + pos * Item.SIZE;
        int dataAt = newEnd - data.length;
        key.write(buf, h + Item.OFFSET_KEY);
        buf.putInt(h + Item.OFFSET_DATA_OFFSET, dataAt - Header.SIZE);
        buf.putInt(h + Item.OFFSET_DATA_SIZE, data.length);
        buf.put(dataAt, data);
        buf.putInt(Header.OFFSET_NRITEMS, n + 1);
        store.putDirty(bytenr, buf);
        return true;
    }

    /**
     * Deletes {@code key} below the block at {@code bytenr}, which holds it. Each block is copied before its child
     * (top-down, as btrfs_search_slot with cow does): a block shared with a snapshot must be copied while its parent
     * still points at it, so that its children's references follow the kernel's rules.
     */
    private List<NodePtr> delete(long owner, long bytenr, long gen, int level, Key key, boolean isRoot)
            throws FsException {
        TreeBlock b = cow(store.read(bytenr, gen, level, owner), owner);
        long target = b.bytenr();
        if (level == 0) {
            if (deleteInPlace(target, key)) return List.of(ptr(b));
            List<LeafItem> items = TreeBlockCodec.decodeLeaf(b);
            int pos = position(items, key);
            if (pos == items.size() || !items.get(pos).key().equals(key)) {
                // the caller found it on the same path: the tree's keys are out of order
                throw new CorruptBlockException(owner, target, pos, "key " + key + " to delete is not in the leaf "
                        + "its parent points to");
            }
            items.remove(pos);
            if (items.isEmpty() && !isRoot) {
                store.free(target, owner, 0);
                return List.of();
            }
            return writeLeaf(target, owner, items);
        }
        int child = childSlot(b, key);
        NodePtr c = new NodePtr(b.key(child), b.blockptr(child), b.ptrGeneration(child));
        List<NodePtr> repl = delete(owner, c.blockptr(), c.generation(), level - 1, key, false);
        boolean same = unchanged(c, repl);
        if (repl.size() == 1 && !mergeable(b, child, repl.get(0), level - 1, owner)
                && (same || setPtrInPlace(target, child, repl))) {
            return List.of(ptr(b));
        }
        List<NodePtr> ptrs = TreeBlockCodec.decodeNode(b);
        ptrs.remove(child);
        ptrs.addAll(child, repl);
        int count = ptrs.size();
        if (repl.size() == 1) mergeWithSibling(owner, level - 1, ptrs, child);
        if (same && ptrs.size() == count) return List.of(ptr(b));
        if (ptrs.isEmpty() && !isRoot) {
            store.free(target, owner, level);
            return List.of();
        }
        return writeNode(target, owner, level, ptrs);
    }

    /** Whether the tree under {@code root} holds {@code key} (a read-only walk, nothing copied). */
    private boolean contains(TreeRoot root, Key key) throws FsException {
        TreeBlock b = store.read(root.bytenr(), root.generation(), root.level(), root.owner());
        for (int level = root.level(); level > 0; level--) {
            int child = childSlot(b, key);
            b = store.read(b.blockptr(child), b.ptrGeneration(child), level - 1, root.owner());
        }
        return b.search(key) >= 0;
    }

    /**
     * Folds the child at {@code slot} into a neighbour (or the neighbour into it) when it is under a quarter full
     * and the two fit in one block; {@code ptrs} is the parent's pointer list, changed in place.
     */
    private void mergeWithSibling(long owner, int level, List<NodePtr> ptrs, int slot) throws FsException {
        if (!underQuarter(ptrs.get(slot), level, owner)) return;
        for (int other : new int[] {slot - 1, slot + 1}) {
            if (other < 0 || other >= ptrs.size()) continue;
            int left = Math.min(slot, other);
            NodePtr l = ptrs.get(left);
            NodePtr r = ptrs.get(left + 1);
            TreeBlock lb = store.read(l.blockptr(), l.generation(), level, owner);
            TreeBlock rb = store.read(r.blockptr(), r.generation(), level, owner);
            if (!fitOne(lb, rb)) continue;
            List<NodePtr> merged;
            if (level == 0) {
                List<LeafItem> items = TreeBlockCodec.decodeLeaf(lb);
                items.addAll(TreeBlockCodec.decodeLeaf(rb));
                if (leafUsed(items) > leafCapacity()) continue;
                merged = writeLeaf(cow(lb, owner).bytenr(), owner, items);
            } else {
                List<NodePtr> both = TreeBlockCodec.decodeNode(lb);
                both.addAll(TreeBlockCodec.decodeNode(rb));
                if (both.size() > nodeCapacity()) continue;
                merged = writeNode(cow(lb, owner).bytenr(), owner, level, both);
            }
            store.free(rb.bytenr(), owner, level);
            ptrs.remove(left + 1);
            ptrs.set(left, merged.get(0));
            return;
        }
    }

    /**
     * The block this transaction edits in place of {@code b}: {@code b} itself when this transaction already copied
     * it, else a byte copy at a newly allocated address with the header a copied block gets (new address and
     * generation, this owner, not yet written); the old block is freed.
     */
    private TreeBlock cow(TreeBlock b, long owner) throws FsException {
        if (store.dirty(b.bytenr()) != null) return b;
        long fresh = store.allocate(owner, b.level());
        store.free(b.bytenr(), owner, b.level());
        return writeCopy(b, fresh, owner);
    }

    /**
     * A copy of {@code b} at a new address as a block of tree {@code owner} (≈ btrfs_copy_root, whose snapshot's
     * root starts as a copy of its source's): {@code b} stays as it is; the references the copy holds to its
     * children are the caller's to add.
     */
    public TreeBlock copyBlock(TreeBlock b, long owner) throws FsException {
        return writeCopy(b, store.allocate(owner, b.level()), owner);
    }

    private TreeBlock writeCopy(TreeBlock b, long fresh, long owner) {
        ByteBuffer copy = ByteBuffer.allocate(nodesize).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(0, b.buffer(), 0, nodesize);
        copy.putLong(Header.OFFSET_BYTENR, fresh);
        copy.putLong(Header.OFFSET_FLAGS, NEW_BLOCK_FLAGS);
        copy.putLong(Header.OFFSET_GENERATION, transid);
        copy.putLong(Header.OFFSET_OWNER, owner);
        store.putDirty(fresh, copy);
        return new TreeBlock(fresh, copy.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
    }

    /** Writes {@code items} at {@code first}, splitting over new blocks when they do not fit one. */
    private List<NodePtr> writeLeaf(long first, long owner, List<LeafItem> items) throws FsException {
        int pieces = (int) Math.max(1, (leafUsed(items) + leafCapacity() - 1) / leafCapacity());
        List<NodePtr> out = new ArrayList<>();
        int from = 0;
        for (int p = 0; p < pieces || from < items.size(); p++) {
            long target = out.isEmpty() ? first : store.allocate(owner, 0);
            // even pieces by bytes: take items while under this piece's share and the leaf fits
            long share = (leafUsed(items.subList(from, items.size())) + (pieces - p) - 1) / Math.max(1, pieces - p);
            int to = from;
            long used = 0;
            while (to < items.size()) {
                long next = Item.SIZE + items.get(to).data().length;
                if (used + next > leafCapacity() || (used >= share && to > from)) break;
                used += next;
                to++;
            }
            List<LeafItem> piece = items.subList(from, to);
            store.putDirty(target, codec.encodeLeaf(target, owner, piece));
            out.add(new NodePtr(piece.isEmpty() ? new Key(0, 0, 0) : piece.get(0).key(), target, transid));
            from = to;
            if (from >= items.size()) break;
        }
        return out;
    }

    /** Writes {@code ptrs} at {@code first}, splitting over new blocks when they do not fit one. */
    private List<NodePtr> writeNode(long first, long owner, int level, List<NodePtr> ptrs) throws FsException {
        int pieces = Math.max(1, (ptrs.size() + nodeCapacity() - 1) / nodeCapacity());
        List<NodePtr> out = new ArrayList<>();
        for (int p = 0; p < pieces; p++) {
            int from = ptrs.size() * p / pieces;
            int to = ptrs.size() * (p + 1) / pieces;
            long target = p == 0 ? first : store.allocate(owner, level);
            List<NodePtr> piece = ptrs.subList(from, to);
            store.putDirty(target, codec.encodeNode(target, owner, level, piece));
            out.add(new NodePtr(piece.isEmpty() ? new Key(0, 0, 0) : piece.get(0).key(), target, transid));
        }
        return out;
    }

    /**
     * Whether {@link #mergeWithSibling} would fold the child {@code p} (the new pointer of {@code parent}'s slot
     * {@code slot}) with a neighbour: it is under a quarter full and fits one block with one of them. Asked from the
     * blocks' headers, before any pointer list is decoded: most deletes merge nothing.
     */
    private boolean mergeable(TreeBlock parent, int slot, NodePtr p, int level, long owner) throws FsException {
        if (!underQuarter(p, level, owner)) return false;
        TreeBlock b = store.read(p.blockptr(), p.generation(), level, owner);
        for (int other : new int[] {slot - 1, slot + 1}) {
            if (other < 0 || other >= parent.nritems()) continue;
            TreeBlock o = store.read(parent.blockptr(other), parent.ptrGeneration(other), level, owner);
            if (fitOne(b, o)) return true;
        }
        return false;
    }

    /** Whether the contents of two blocks of one level fit one block. */
    private boolean fitOne(TreeBlock a, TreeBlock b) {
        if (a.isLeaf()) return leafUsed(a) + leafUsed(b) <= leafCapacity();
        return a.nritems() + b.nritems() <= nodeCapacity();
    }

    private static long leafUsed(TreeBlock b) {
        long used = 0;
        for (int i = 0; i < b.nritems(); i++) used += Item.SIZE + b.itemSize(i);
        return used;
    }

    /** Whether the block {@code p} points at is under a quarter full (a candidate for merging). */
    private boolean underQuarter(NodePtr p, int level, long owner) throws FsException {
        TreeBlock b = store.read(p.blockptr(), p.generation(), level, owner);
        if (level > 0) return b.nritems() * 4 < nodeCapacity();
        return leafUsed(b) * 4 < leafCapacity();
    }

    private static NodePtr ptr(TreeBlock b) {
        return new NodePtr(b.nritems() == 0 ? new Key(0, 0, 0) : b.key(0), b.bytenr(), b.generation());
    }

    private static long leafUsed(List<LeafItem> items) {
        long n = 0;
        for (LeafItem i : items) n += Item.SIZE + i.data().length;
        return n;
    }

    /** Index of the first item whose key is >= {@code key}. */
    private static int position(List<LeafItem> items, Key key) {
        int lo = 0;
        int hi = items.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (items.get(mid).key().compareTo(key) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /** The child of node {@code b} whose range holds {@code key}: the last pointer with key <= it, or the first. */
    private static int childSlot(TreeBlock b, Key key) {
        int found = b.search(key);
        return found >= 0 ? found : Math.max(0, -found - 2);
    }
}
