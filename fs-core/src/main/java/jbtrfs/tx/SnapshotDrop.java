package jbtrfs.tx;

import jbtrfs.CorruptBlockException;
import jbtrfs.FsException;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.Key;

/**
 * Drops a deleted subvolume's tree a piece at a time (≈ btrfs_drop_snapshot with walk_down_tree and walk_up_tree):
 * depth first from the left, a block only this tree references is descended into and freed after its children, a
 * block others share loses this tree's reference and is left to them; a leaf gives up its file extents' references.
 * Each reference goes the way it was made: from the parent block when the parent carries FULL_BACKREF, else by
 * root. The walk stops after a budget of blocks at a slot of a node and says where (the root item's drop_progress
 * and drop_level): the blocks on the path down to there are still whole, so the next step, in this transaction or
 * after a mount, finds its way back by that key.
 */
public final class SnapshotDrop {
    private final Transaction tx;
    private final long rootId;
    private final TreeBlock[] nodes;
    private final int[] slots;
    private final long[] flags;
    private final int top;
    /** The transaction that made the tree (its root item key's offset, 0 for a subvolume made empty). */
    private final long origin;

    /** Where a drop stands after a step: the first key not yet dropped at {@code level}, or done. */
    public record Progress(Key key, int level, boolean done) {
        static final Progress DONE = new Progress(new Key(0, 0, 0), 0, true);
    }

    private SnapshotDrop(Transaction tx, long rootId, int top, long origin) {
        this.tx = tx;
        this.origin = origin;
        this.rootId = rootId;
        this.top = top;
        this.nodes = new TreeBlock[top + 1];
        this.slots = new int[top + 1];
        this.flags = new long[top + 1];
    }

    /**
     * Drops about {@code budget} blocks of dead tree {@code rootId} whose root is {@code root}, from {@code from} at
     * {@code fromLevel} (a null key: from the start); {@code origin} is the transaction that made the tree (its
     * root item key's offset). The root item is the caller's to update with the progress, and to delete once done.
     */
    public static Progress step(Transaction tx, long rootId, long origin, TreeRoot root, Key from, int fromLevel,
                                int budget) throws FsException {
        SnapshotDrop d = new SnapshotDrop(tx, rootId, root.level(), origin);
        return d.walk(root, from, fromLevel, Math.max(1, budget));
    }

    private Progress walk(TreeRoot root, Key from, int fromLevel, int budget) throws FsException {
        int level = top;
        nodes[top] = tx.read(root.bytenr(), root.generation(), top, rootId);
        long[] info = tx.extentInfo(root.bytenr(), top);
        flags[top] = info[1];
        if (info[0] > 1) {
            // a root others share (never made by a snapshot, which copies the root): only our reference goes
            tx.dropTreeRef(root.bytenr(), top, TreeRefs.Ref.tree(rootId));
            return Progress.DONE;
        }
        if (from != null && from.objectid() != 0) {
            level = descendTo(from, fromLevel);
        }
        int done = 0;
        while (true) {
            // down: skip shared children (dropping our reference), enter the ones only we hold
            while (level > 0 && slots[level] < nodes[level].nritems()) {
                TreeBlock n = nodes[level];
                int s = slots[level];
                long child = n.blockptr(s);
                long[] ci = tx.extentInfo(child, level - 1);
                if (ci[0] > 1) {
                    // a block this tree made after it was created may hold references by this tree's id, which
                    // must not outlive it: they become references from the block itself first (UPDATE_BACKREF)
                    boolean fullLeaf = level == 1 && (ci[1] & ExtentItem.FLAG_FULL_BACKREF) != 0;
                    if (!fullLeaf && n.ptrGeneration(s) > origin) {
                        updateBackrefs(tx.read(child, n.ptrGeneration(s), level - 1, rootId), ci[1]);
                    }
                    tx.dropTreeRef(child, level - 1, parentRef(level));
                    slots[level]++;
                    done++;
                    continue;
                }
                TreeBlock c = tx.read(child, n.ptrGeneration(s), level - 1, rootId);
                level--;
                nodes[level] = c;
                slots[level] = 0;
                flags[level] = ci[1];
            }
            if (level == 0) {
                tx.changeChildRefs(nodes[0], rootId, (flags[0] & ExtentItem.FLAG_FULL_BACKREF) != 0, -1);
            }
            // up: the block is done with; free it, and the parents whose last child it was
            while (true) {
                TreeRefs.Ref ref = level == top ? TreeRefs.Ref.tree(rootId) : parentRef(level + 1);
                tx.dropTreeRef(nodes[level].bytenr(), level, ref);
                done++;
                level++;
                if (level > top) return Progress.DONE;
                slots[level]++;
                if (slots[level] < nodes[level].nritems()) break;
            }
            if (done >= budget) return new Progress(nodes[level].key(slots[level]), level, false);
        }
    }

    /**
     * Turns the references that block {@code b} of this tree and the blocks below it that this tree owns hold by
     * this tree's id into references from the blocks themselves, and marks them FULL_BACKREF (the kernel's
     * UPDATE_BACKREF stage of walk_down_proc): the trees that share them keep reaching their children.
     */
    private void updateBackrefs(TreeBlock b, long blockFlags) throws FsException {
        if (b.owner() != rootId) return;
        if ((blockFlags & ExtentItem.FLAG_FULL_BACKREF) == 0) {
            tx.changeChildRefs(b, rootId, true, +1);
            tx.changeChildRefs(b, rootId, false, -1);
            tx.setTreeBlockFlags(b.bytenr(), b.level(), ExtentItem.FLAG_FULL_BACKREF);
        }
        if (b.level() == 0) return;
        for (int i = 0; i < b.nritems(); i++) {
            long[] ci = tx.extentInfo(b.blockptr(i), b.level() - 1);
            if (b.level() == 1 && (ci[1] & ExtentItem.FLAG_FULL_BACKREF) != 0) continue;
            updateBackrefs(tx.read(b.blockptr(i), b.ptrGeneration(i), b.level() - 1, rootId), ci[1]);
        }
    }

    /** Rebuilds the path to {@code key} at {@code level} (≈ the search with lowest_level that resumes a drop). */
    private int descendTo(Key key, int level) throws FsException {
        if (level < 1 || level > top) {
            throw corrupt(nodes[top], "drop_level " + level + " outside 1.." + top);
        }
        int l = top;
        while (l > level) {
            TreeBlock n = nodes[l];
            int found = n.search(key);
            int s = found >= 0 ? found : Math.max(0, -found - 2);
            slots[l] = s;
            long child = n.blockptr(s);
            long[] ci = tx.extentInfo(child, l - 1);
            if (ci[0] != 1) throw corrupt(n, "block " + child + " above drop_level has " + ci[0] + " references");
            l--;
            nodes[l] = tx.read(child, n.ptrGeneration(s), l, rootId);
            flags[l] = ci[1];
        }
        int s = nodes[l].search(key);
        if (s < 0) throw corrupt(nodes[l], "drop_progress key " + key + " is not in the block at drop_level " + l);
        slots[l] = s;
        return l;
    }

    /** How a child of the block at {@code level} is referenced: from that block (FULL_BACKREF) or by root. */
    private TreeRefs.Ref parentRef(int level) {
        return (flags[level] & ExtentItem.FLAG_FULL_BACKREF) != 0 ? TreeRefs.Ref.shared(nodes[level].bytenr())
                : TreeRefs.Ref.tree(rootId);
    }

    private CorruptBlockException corrupt(TreeBlock b, String what) {
        return new CorruptBlockException(rootId, b.bytenr(), -1, "dropping tree " + rootId + ": " + what);
    }
}
