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

/** Extended attributes: XATTR_ITEMs keyed by name hash, the value in the dir item's data. */
final class Xattrs {
    private final Subvolumes subvolumes;

    Xattrs(Subvolumes subvolumes) {
        this.subvolumes = subvolumes;
    }

    /** Names in key (hash) order, as the kernel's listxattr walks them. */
    List<String> list(InodeId id) throws FsException {
        List<String> names = new ArrayList<>();
        if (id.objectid() == ObjectIds.EMPTY_SUBVOL_DIR) return names;
        BTree tree = subvolumes.tree(id.root());
        Cursor c = tree.seek(Key.first(id.objectid(), KeyType.XATTR_ITEM));
        while (c.valid() && c.key().objectid() == id.objectid() && c.key().type() == KeyType.XATTR_ITEM) {
            for (DirItem d : Subvolumes.readDirItems(c)) {
                names.add(new String(d.name(), StandardCharsets.UTF_8));
            }
            c.next();
        }
        return names;
    }

    byte[] get(InodeId id, String name) throws FsException {
        if (id.objectid() != ObjectIds.EMPTY_SUBVOL_DIR) {
            byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            BTree tree = subvolumes.tree(id.root());
            Cursor c = tree.find(new Key(id.objectid(), KeyType.XATTR_ITEM, NameHash.of(bytes)));
            if (c != null) {
                for (DirItem d : Subvolumes.readDirItems(c)) {
                    if (Arrays.equals(d.name(), bytes)) return d.data();
                }
            }
        }
        throw new FsException(Errno.ENODATA, "no xattr " + name + " on inode " + id);
    }
}
