package jbtrfs.fs;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;

/**
 * The inode ref (or extended ref) that holds one name of an inode in a directory (≈ btrfs_find_name_in_backref and
 * btrfs_del_inode_ref): found once, together with what its item holds without that name, so that removing the name
 * needs no second search of the tree.
 */
final class InodeRefs {
    private InodeRefs() {
    }

    /** One name's ref: the item's key, the name's dir index, the item's data without the name (null: it goes). */
    record Found(Key key, long index, byte[] rest) {
    }

    /** The ref of {@code name} of {@code target} under {@code dir}: the inode ref first, then an extref; or null. */
    static Found find(InodeWriter w, InodeId dir, InodeId target, byte[] name) throws FsException {
        BTree tree = w.tree(dir.root());
        Key refKey = new Key(target.objectid(), KeyType.INODE_REF, dir.objectid());
        Cursor rc = tree.find(refKey);
        if (rc != null) {
            List<InodeRef> refs = new ArrayList<>(rc.decode(InodeRef::readAll));
            for (int i = 0; i < refs.size(); i++) {
                if (Arrays.equals(refs.get(i).name(), name)) {
                    long index = refs.remove(i).index();
                    return new Found(refKey, index, refs.isEmpty() ? null : InodeRef.encodeAll(refs));
                }
            }
        }
        Key extKey = new Key(target.objectid(), KeyType.INODE_EXTREF, NameHash.extref(dir.objectid(), name));
        Cursor ec = tree.find(extKey);
        if (ec != null) {
            List<InodeExtref> ext = new ArrayList<>(ec.decode(InodeExtref::readAll));
            for (int i = 0; i < ext.size(); i++) {
                InodeExtref r = ext.get(i);
                if (r.parentObjectid() == dir.objectid() && Arrays.equals(r.name(), name)) {
                    ext.remove(i);
                    return new Found(extKey, r.index(), ext.isEmpty() ? null : InodeExtref.encodeAll(ext));
                }
            }
        }
        return null;
    }

    /** Removes the name {@code f} holds: its item goes, or keeps the other names it packs. */
    static void remove(InodeWriter w, TreeRoot root, Found f) throws FsException {
        if (f.rest() == null) w.tx().editor().deletePresent(root, f.key());
        else w.tx().editor().put(root, f.key(), f.rest());
    }
}
