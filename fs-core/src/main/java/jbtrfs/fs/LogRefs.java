package jbtrfs.fs;

import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.DirItem;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.fs.LogNames.Name;

/**
 * The inode refs and extrefs of one subvolume's log during replay (LOG_WALK_REPLAY_ALL), the kernel's add_inode_ref:
 * the conflicts __add_inode_ref removes for the first name it adds, the names it adds, and the stale names of the
 * subvolume's item of the same key (unlink_old_inode_refs). The name changes themselves are {@link LogNames}'.
 */
final class LogRefs {
    private final LogNames names;
    private final BTree log;
    private final long subvolume;

    LogRefs(LogNames names, BTree log, long subvolume) {
        this.names = names;
        this.log = log;
        this.subvolume = subvolume;
    }

    /**
     * An INODE_REF or INODE_EXTREF item of the log (add_inode_ref): each of its names not yet in its directory is
     * added, after the conflicts __add_inode_ref finds for the first of them; then the subvolume's item of the same
     * key loses the names the log's lacks (unlink_old_inode_refs) and takes the log's bytes.
     */
    void replay(Key key, byte[] data) throws FsException {
        long ino = key.objectid();
        if (!names.exists(ino)) {
            throw new FsException(Errno.EINVAL, "the log names inode " + ino + " of subvolume " + subvolume
                    + ", which neither the log nor the subvolume holds");
        }
        List<Name> logged = LogNames.decodeRefs(key, data);
        for (Name n : logged) {
            // a parent the subvolume does not hold (nor the log made): the kernel skips the ref (-ENOENT)
            if (!names.exists(n.parent())) return;
        }
        boolean searchDone = false;
        for (Name n : logged) {
            long parent = n.parent();
            if (names.inDir(parent, ino, n.index(), n.name())) continue;
            if (!searchDone) {
                // a subvolume's top directory names itself ".." in its ref: no entry goes with it
                if (parent == ino && names.tree().find(new Key(ino, KeyType.INODE_REF, ino)) != null) return;
                searchDone = dropConflicts(ino, n);
            }
            // the same name at another index: that one goes first
            if (hasRef(key.type(), ino, parent, n.name())) names.unlink(parent, n.name(), ino);
            DirItem byName = names.entry(parent, n.name());
            if (byName != null) names.unlink(parent, byName.name(), byName.location().objectid());
            names.requireFreeIndex(parent, n.index(), n.name());
            names.addLink(parent, ino, n.name(), n.index(), false);
        }
        unlinkOldRefs(key, logged);
        names.copy(key, data);
        names.linkToFixup(ino);
    }

    /**
     * __add_inode_ref for the first logged name {@code n} not in its directory: the inode's other names under the
     * parent that the log's item of their key lacks, then the same name at the logged index and the logged name in
     * the directory. Returns whether the inode had a ref or extref item to search (the kernel's search_done).
     */
    private boolean dropConflicts(long ino, Name n) throws FsException {
        long parent = n.parent();
        boolean searched = false;
        Key refKey = new Key(ino, KeyType.INODE_REF, parent);
        Cursor rc = names.tree().find(refKey);
        if (rc != null) {
            searched = true;
            for (InodeRef v : rc.decode(InodeRef::readAll)) {
                if (!inLogItem(refKey, parent, v.name())) names.unlink(parent, v.name(), ino);
            }
        }
        Cursor ec = names.tree().find(new Key(ino, KeyType.INODE_EXTREF, NameHash.extref(parent, n.name())));
        if (ec != null) {
            searched = true;
            for (InodeExtref v : ec.decode(InodeExtref::readAll)) {
                Key vKey = new Key(ino, KeyType.INODE_EXTREF, NameHash.extref(parent, v.name()));
                if (v.parentObjectid() == parent && !inLogItem(vKey, parent, v.name())) {
                    names.unlink(parent, v.name(), ino);
                }
            }
        }
        DirItem byIndex = names.indexEntry(parent, n.index(), n.name());
        if (byIndex != null) names.unlink(parent, byIndex.name(), byIndex.location().objectid());
        DirItem byName = names.entry(parent, n.name());
        if (byName != null) names.unlink(parent, byName.name(), byName.location().objectid());
        return searched;
    }

    /** The subvolume's names in its item of {@code key} that the log's item lacks go (unlink_old_inode_refs). */
    private void unlinkOldRefs(Key key, List<Name> logged) throws FsException {
        Cursor c = names.tree().find(key);
        if (c == null) return;
        for (Name old : LogNames.decodeRefs(key, LogNames.bytes(c))) {
            boolean kept = logged.stream().anyMatch(n -> n.parent() == old.parent()
                    && Arrays.equals(n.name(), old.name()));
            if (!kept && names.exists(old.parent())) names.unlink(old.parent(), old.name(), key.objectid());
        }
    }

    /** Whether the log's item of {@code key} holds {@code name} under {@code parent} (backref_in_log). */
    private boolean inLogItem(Key key, long parent, byte[] name) throws FsException {
        Cursor c = log.find(key);
        if (c == null) return false;
        return LogNames.decodeRefs(key, LogNames.bytes(c)).stream().anyMatch(n -> n.parent() == parent
                && Arrays.equals(n.name(), name));
    }

    /** Whether the subvolume's ref (or extref, by {@code type}) of {@code ino} under {@code parent} has the name. */
    private boolean hasRef(int type, long ino, long parent, byte[] name) throws FsException {
        Key k = type == KeyType.INODE_REF ? new Key(ino, KeyType.INODE_REF, parent)
                : new Key(ino, KeyType.INODE_EXTREF, NameHash.extref(parent, name));
        Cursor c = names.tree().find(k);
        return c != null && LogNames.decodeRefs(k, LogNames.bytes(c)).stream().anyMatch(n -> n.parent() == parent
                && Arrays.equals(n.name(), name));
    }
}
