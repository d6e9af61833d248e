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
 * and keyed, give (subvolume, inode); a shared reference names a leaf whose file extent items point at the extent;
 * an inode's path follows its first inode ref up to the subvolume's root, and the subvolume's root backrefs up to
 * the top level.
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
        Set<Owner> owners = new LinkedHashSet<>();
        BTree extents = trees.committed(ObjectIds.EXTENT_TREE);
        Cursor c = extents.seek(new Key(extentStart, KeyType.EXTENT_ITEM, 0));
        try {
            while (c.valid() && c.key().objectid() == extentStart) {
                Key k = c.key();
                if (k.type() == KeyType.EXTENT_ITEM) {
                    ExtentItem item = ExtentItem.read(c.buffer(), c.dataOffset(), c.dataSize(), false);
                    for (ExtentItem.InlineRef r : item.inlineRefs()) {
                        if (r.type() == KeyType.EXTENT_DATA_REF) owners.add(new Owner(r.root(), r.objectid()));
                        if (r.type() == KeyType.SHARED_DATA_REF) sharedOwners(r.offset(), extentStart, owners);
                    }
                } else if (k.type() == KeyType.EXTENT_DATA_REF && c.dataSize() >= ExtentDataRef.SIZE) {
                    ExtentDataRef r = ExtentDataRef.read(c.buffer(), c.dataOffset());
                    owners.add(new Owner(r.root(), r.objectid()));
                } else if (k.type() == KeyType.SHARED_DATA_REF) {
                    sharedOwners(k.offset(), extentStart, owners);
                }
                c.next();
            }
        } catch (MalformedItemException e) {
            throw c.corrupt(e.getMessage());
        }
        snapshotOwners(trees, extentStart, owners);
        List<Owner> sorted = new ArrayList<>(owners);
        sorted.sort(Comparator.comparingLong(Owner::root).thenComparingLong(Owner::inode));
        List<String> out = new ArrayList<>();
        for (Owner o : sorted) out.add(path(trees, o));
        return out;
    }

    /**
     * The same inodes in the other subvolumes where they still point at the extent: a snapshot shares its source's
     * leaves, so the extent's references name only the source (the kernel finds them by walking the shared tree
     * blocks' back references; a snapshot keeps its source's inode numbers, so looking the inode up there is enough).
     */
    private static void snapshotOwners(ScrubWalk.Trees trees, long extentStart, Set<Owner> owners)
            throws FsException {
        Set<Long> inodes = new LinkedHashSet<>();
        for (Owner o : owners) inodes.add(o.inode());
        BTree rootTree = trees.committed(ObjectIds.ROOT_TREE);
        Cursor c = rootTree.seek(Key.first(ObjectIds.FS_TREE, KeyType.ROOT_ITEM));
        List<Long> subvolumes = new ArrayList<>();
        while (c.valid()) {
            long id = c.key().objectid();
            if (c.key().type() == KeyType.ROOT_ITEM && ObjectIds.isSubvolume(id) && !subvolumes.contains(id)) {
                subvolumes.add(id);
            }
            c.next();
        }
        for (long subvolume : subvolumes) {
            for (long inode : inodes) {
                if (owners.contains(new Owner(subvolume, inode))) continue;
                if (pointsAt(trees.committed(subvolume), inode, extentStart)) owners.add(new Owner(subvolume, inode));
            }
        }
    }

    /** Whether one of {@code inode}'s file extent items in {@code tree} points at the extent. */
    private static boolean pointsAt(BTree tree, long inode, long extentStart) throws CorruptBlockException {
        Cursor c = tree.seek(new Key(inode, KeyType.EXTENT_DATA, 0));
        while (c.valid() && c.key().objectid() == inode && c.key().type() == KeyType.EXTENT_DATA) {
            FileExtentItem fe = c.decode(FileExtentItem::read);
            if (!fe.isInline() && fe.diskBytenr() == extentStart) return true;
            c.next();
        }
        return false;
    }

    private record Owner(long root, long inode) {
    }

    /** The inodes of the leaf at {@code parent} whose file extent items point at the extent. */
    private void sharedOwners(long parent, long extentStart, Set<Owner> owners) throws CorruptBlockException {
        TreeBlock leaf = blocks.read(parent, 0, 0, ObjectIds.EXTENT_TREE);
        for (int slot = 0; slot < leaf.nritems(); slot++) {
            Key k = leaf.key(slot);
            if (k.type() != KeyType.EXTENT_DATA) continue;
            FileExtentItem fe;
            try {
                fe = FileExtentItem.read(leaf.buffer(), leaf.itemOffset(slot), leaf.itemSize(slot));
            } catch (MalformedItemException e) {
                throw new CorruptBlockException(leaf.owner(), parent, slot, e.getMessage());
            }
            if (!fe.isInline() && fe.diskBytenr() == extentStart) owners.add(new Owner(leaf.owner(), k.objectid()));
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
