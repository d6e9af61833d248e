package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import jbtrfs.CorruptBlockException;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockSource;
import jbtrfs.format.ExtentDataRef;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootRef;

/**
 * The files that use a data extent, by path from the top level (what the kernel's scrub prints for an
 * uncorrectable data error, ≈ iterate_extent_inodes then inode paths): the extent's data back references, inline
 * and keyed, give (subvolume, inode) and the leaves holding its file extent items, a shared reference names such a
 * leaf; every subvolume that reaches one of those leaves through the tree blocks' back references
 * ({@link BlockRoots}) uses the extent; an inode's path follows its first inode ref up to the subvolume's root, and
 * the subvolume's root backrefs up to the top level.
 */
final class ExtentPaths {
    private final TreeBlockSource blocks;

    ExtentPaths(TreeBlockSource blocks) {
        this.blocks = blocks;
    }

    /**
     * Paths ("sub/dir/file", with the subvolume id and inode) of every file with a reference to the extent, by
     * subvolume and inode.
     */
    List<String> of(ScrubWalk.Trees trees, long extentStart) throws FsException {
        Set<Owner> direct = new LinkedHashSet<>();
        Set<Owner> owners = new LinkedHashSet<>();
        BlockRoots roots = new BlockRoots(blocks, trees);
        BTree extents = trees.committed(ObjectIds.EXTENT_TREE);
        Cursor c = extents.seek(new Key(extentStart, KeyType.EXTENT_ITEM, 0));
        try {
            while (c.valid() && c.key().objectid() == extentStart) {
                Key k = c.key();
                if (k.type() == KeyType.EXTENT_ITEM) {
                    ExtentItem item = ExtentItem.read(c.buffer(), c.dataOffset(), c.dataSize(), false);
                    for (ExtentItem.InlineRef r : item.inlineRefs()) {
                        if (r.type() == KeyType.EXTENT_DATA_REF) direct.add(new Owner(r.root(), r.objectid()));
                        if (r.type() == KeyType.SHARED_DATA_REF) {
                            sharedOwners(roots, r.offset(), extentStart, owners);
                        }
                    }
                } else if (k.type() == KeyType.EXTENT_DATA_REF && c.dataSize() >= ExtentDataRef.SIZE) {
                    ExtentDataRef r = ExtentDataRef.read(c.buffer(), c.dataOffset());
                    direct.add(new Owner(r.root(), r.objectid()));
                } else if (k.type() == KeyType.SHARED_DATA_REF) {
                    sharedOwners(roots, k.offset(), extentStart, owners);
                }
                c.next();
            }
        } catch (MalformedItemException e) {
            throw c.corrupt(e.getMessage());
        }
        for (Owner o : direct) {
            owners.add(o);
            for (long leaf : leavesPointingAt(trees.committed(o.root()), o.inode(), extentStart)) {
                for (long root : roots.of(leaf)) owners.add(new Owner(root, o.inode()));
            }
        }
        List<Owner> sorted = new ArrayList<>(owners);
        sorted.sort(Comparator.comparingLong(Owner::root).thenComparingLong(Owner::inode));
        List<String> out = new ArrayList<>();
        for (Owner o : sorted) out.add(path(trees, o));
        return out;
    }

    /**
     * The leaves of {@code tree} holding a file extent item of {@code inode} that points at the extent: the
     * snapshots sharing them use the extent too, though its references name only the tree they were written in.
     */
    private static Set<Long> leavesPointingAt(BTree tree, long inode, long extentStart) throws CorruptBlockException {
        Set<Long> leaves = new LinkedHashSet<>();
        Cursor c = tree.seek(new Key(inode, KeyType.EXTENT_DATA, 0));
        while (c.valid() && c.key().objectid() == inode && c.key().type() == KeyType.EXTENT_DATA) {
            FileExtentItem fe = c.decode(FileExtentItem::read);
            if (!fe.isInline() && fe.diskBytenr() == extentStart) leaves.add(c.leaf().bytenr());
            c.next();
        }
        return leaves;
    }

    private record Owner(long root, long inode) {
    }

    /** The inodes of the leaf at {@code parent} whose file extent items point at the extent, in every tree it is in. */
    private void sharedOwners(BlockRoots roots, long parent, long extentStart, Set<Owner> owners)
            throws FsException {
        TreeBlock leaf = blocks.read(parent, 0, 0, ObjectIds.EXTENT_TREE);
        Set<Long> trees = roots.of(parent);
        for (int slot = 0; slot < leaf.nritems(); slot++) {
            Key k = leaf.key(slot);
            if (k.type() != KeyType.EXTENT_DATA) continue;
            FileExtentItem fe = leaf.fileExtent(slot);
            if (fe.isInline() || fe.diskBytenr() != extentStart) continue;
            for (long root : trees) owners.add(new Owner(root, k.objectid()));
        }
    }

    private static String path(ScrubWalk.Trees trees, Owner o) throws FsException {
        List<String> parts = subvolumePath(trees.committed(ObjectIds.ROOT_TREE), trees, o.root());
        parts.addAll(Inodes.pathOfDirectory(trees.committed(o.root()), o.inode()));
        return String.join("/", parts) + " (subvolume " + o.root() + ", inode " + o.inode() + ")";
    }

    /** The names from the top level down to subvolume {@code id}'s root directory. */
    private static List<String> subvolumePath(BTree rootTree, ScrubWalk.Trees trees, long id) throws FsException {
        List<String> parts = new ArrayList<>();
        long cur = id;
        for (int depth = 0; cur != ObjectIds.FS_TREE && depth < 256; depth++) {
            Cursor c = rootTree.seek(Key.first(cur, KeyType.ROOT_BACKREF));
            if (!c.valid() || c.key().objectid() != cur || c.key().type() != KeyType.ROOT_BACKREF) {
                parts.add(0, "<unlinked subvolume " + cur + ">");
                break;
            }
            RootRef ref = c.decode(RootRef::read);
            parts.add(0, new String(ref.name(), StandardCharsets.UTF_8));
            parts.addAll(0, Inodes.pathOfDirectory(trees.committed(c.key().offset()), ref.dirid()));
            cur = c.key().offset();
        }
        return parts;
    }
}
