package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.DirItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;

/**
 * Directory lookup through DIR_ITEM (keyed by name hash, colliding names share an item) and readdir through
 * DIR_INDEX (keyed by a per-directory sequence: the kernel's readdir order and offsets).
 */
final class Directories {
    private final Subvolumes subvolumes;

    Directories(Subvolumes subvolumes) {
        this.subvolumes = subvolumes;
    }

    /** The dir item named {@code name} in {@code dir}. */
    DirItem find(InodeId dir, byte[] name) throws FsException {
        DirItem d = findIfExists(dir, name);
        if (d != null) return d;
        throw new FsException(Errno.ENOENT, "no entry " + new String(name, StandardCharsets.UTF_8) + " in directory " + dir);
    }

    /** The dir item named {@code name} in {@code dir}, or null. */
    private DirItem findIfExists(InodeId dir, byte[] name) throws FsException {
        BTree tree = subvolumes.tree(dir.root());
        Cursor c = tree.find(new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name)));
        if (c != null) {
            for (DirItem d : Subvolumes.readDirItems(c)) {
                if (Arrays.equals(d.name(), name)) return d;
            }
        }
        return null;
    }

    InodeId lookup(InodeId dir, String name) throws FsException {
        InodeId id = lookupIfExists(dir, name);
        if (id == null) throw new FsException(Errno.ENOENT, "no entry " + name + " in directory " + dir);
        return id;
    }

    /** As {@link #lookup}, null where there is no such name. */
    InodeId lookupIfExists(InodeId dir, String name) throws FsException {
        if (dir.objectid() == ObjectIds.EMPTY_SUBVOL_DIR) return null;
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        // as btrfs_lookup: a name no entry can have is ENAMETOOLONG, not ENOENT
        if (bytes.length > NamespaceWriter.NAME_MAX) throw new FsException(Errno.ENAMETOOLONG, name);
        DirItem d = findIfExists(dir, bytes);
        return d == null ? null : target(dir, bytes, d);
    }

    /** The inode an entry names; for a subvolume entry, that subvolume's root directory (or the placeholder). */
    InodeId target(InodeId dir, byte[] name, DirItem d) throws FsException {
        Key loc = d.location();
        if (loc.type() == KeyType.ROOT_ITEM) {
            long child = loc.objectid();
            if (subvolumes.linked(dir.root(), dir.objectid(), name, child)) {
                return new InodeId(child, subvolumes.rootItem(child).rootDirid());
            }
            return new InodeId(child, ObjectIds.EMPTY_SUBVOL_DIR);
        }
        return new InodeId(dir.root(), loc.objectid());
    }

    /** See {@link FsOperations#parentDirectory}: a directory has one inode ref, whose key offset is its parent. */
    InodeId parent(InodeId dir) throws FsException {
        RootItem item = subvolumes.rootItem(dir.root());
        if (item == null) throw new FsException(Errno.ENOENT, "no subvolume " + dir.root());
        if (dir.objectid() == item.rootDirid()) {
            if (dir.root() == ObjectIds.FS_TREE) return dir;
            SubvolumeInfo info = subvolumes.info(dir.root());
            if (info.parentId() == 0) throw new FsException(Errno.ENOENT, "subvolume " + dir.root() + " is not linked");
            return new InodeId(info.parentId(), info.dirId());
        }
        Cursor c = subvolumes.tree(dir.root()).seek(Key.first(dir.objectid(), KeyType.INODE_REF));
        if (!c.valid() || c.key().objectid() != dir.objectid() || c.key().type() != KeyType.INODE_REF) {
            throw new FsException(Errno.ENOENT, "no inode ref of " + dir);
        }
        return new InodeId(dir.root(), c.key().offset());
    }

    /** Entries with dir index >= {@code offset}, at most {@code max}; each entry's offset is its index + 1. */
    List<DirEntry> readdir(InodeId dir, long offset, int max, Inodes inodes) throws FsException {
        List<DirEntry> out = new ArrayList<>();
        if (dir.objectid() == ObjectIds.EMPTY_SUBVOL_DIR) return out;
        if (!inodes.stat(dir).isDirectory()) throw new FsException(Errno.ENOTDIR, "inode " + dir + " is not a directory");
        BTree tree = subvolumes.tree(dir.root());
        Cursor c = tree.seek(new Key(dir.objectid(), KeyType.DIR_INDEX, offset));
        while (c.valid() && out.size() < max) {
            Key k = c.key();
            if (k.objectid() != dir.objectid() || k.type() != KeyType.DIR_INDEX) break;
            for (DirItem d : Subvolumes.readDirItems(c)) {
                InodeId id = target(dir, d.name(), d);
                out.add(new DirEntry(new String(d.name(), StandardCharsets.UTF_8), id,
                        DirItem.direntType(d.type()), k.offset() + 1));
            }
            c.next();
        }
        return out;
    }
}
