package jbtrfs.fs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockSource;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.format.ObjectIds;

/**
 * The subvolumes whose committed trees reach a tree block, found as btrfs_find_all_roots finds them: the block's back
 * references in the extent tree, a shared one naming the parent node to ask in turn, a keyed one (root R) the node
 * of R's tree one level up that points at the block, until a subvolume's root block. A snapshot shares its source's
 * nodes, so a leaf of the source is reached from both.
 */
final class BlockRoots {
    /** BTRFS_MAX_LEVEL: no walk up goes further. */
    private static final int MAX_LEVEL = 8;

    private final TreeBlockSource blocks;
    private final ScrubWalk.Trees trees;
    private final Map<Long, Set<Long>> known = new HashMap<>();

    BlockRoots(TreeBlockSource blocks, ScrubWalk.Trees trees) {
        this.blocks = blocks;
        this.trees = trees;
    }

    /** The subvolumes that reach the tree block at {@code bytenr}, by id. */
    Set<Long> of(long bytenr) throws FsException {
        return of(bytenr, 0);
    }

    private Set<Long> of(long bytenr, int depth) throws FsException {
        Set<Long> done = known.get(bytenr);
        if (done != null) return done;
        Set<Long> out = new TreeSet<>();
        known.put(bytenr, out);
        if (depth > MAX_LEVEL) return out;
        TreeBlock block = blocks.read(bytenr, 0, -1, ObjectIds.EXTENT_TREE);
        for (long[] ref : refs(bytenr)) {
            if (ref[0] == KeyType.SHARED_BLOCK_REF) {
                out.addAll(of(ref[1], depth + 1));
                continue;
            }
            long root = ref[1];
            if (!ObjectIds.isSubvolume(root)) continue;
            BTree tree;
            try {
                tree = trees.committed(root);
            } catch (FsException e) {
                continue; // a deleted subvolume: it reaches nothing any more
            }
            if (tree.rootBytenr() == bytenr) {
                out.add(root);
            } else {
                long parent = parentIn(tree, block);
                if (parent != 0) out.addAll(of(parent, depth + 1));
            }
        }
        return out;
    }

    /** The block's references: {TREE_BLOCK_REF, root} or {SHARED_BLOCK_REF, parent}, inline and keyed. */
    private List<long[]> refs(long bytenr) throws FsException {
        List<long[]> out = new ArrayList<>();
        Cursor c = trees.committed(ObjectIds.EXTENT_TREE).seek(new Key(bytenr, KeyType.EXTENT_ITEM, 0));
        try {
            while (c.valid() && c.key().objectid() == bytenr) {
                int type = c.key().type();
                if (type == KeyType.EXTENT_ITEM || type == KeyType.METADATA_ITEM) {
                    ExtentItem item = ExtentItem.read(c.buffer(), c.dataOffset(), c.dataSize(),
                            type == KeyType.METADATA_ITEM);
                    for (ExtentItem.InlineRef r : item.inlineRefs()) {
                        if (r.type() == KeyType.TREE_BLOCK_REF || r.type() == KeyType.SHARED_BLOCK_REF) {
                            out.add(new long[] {r.type(), r.offset()});
                        }
                    }
                } else if (type == KeyType.TREE_BLOCK_REF || type == KeyType.SHARED_BLOCK_REF) {
                    out.add(new long[] {type, c.key().offset()});
                }
                c.next();
            }
        } catch (MalformedItemException e) {
            throw c.corrupt(e.getMessage());
        }
        return out;
    }

    /**
     * The node of {@code tree} one level above {@code block} whose pointer on the way to the block's first key is
     * the block (resolve_indirect_ref); 0 when the tree does not reach it that way.
     */
    private long parentIn(BTree tree, TreeBlock block) throws FsException {
        if (block.nritems() == 0) return 0;
        Key first = block.key(0);
        TreeBlock node = blocks.read(tree.rootBytenr(), 0, -1, tree.id());
        while (node.level() > block.level()) {
            int slot = node.search(first);
            if (slot < 0) slot = Math.max(0, -slot - 2);
            long child = node.blockptr(slot);
            if (node.level() == block.level() + 1) return child == block.bytenr() ? node.bytenr() : 0;
            node = blocks.read(child, 0, node.level() - 1, tree.id());
        }
        return 0;
    }
}
