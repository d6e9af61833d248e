package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.DirItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;

/**
 * Names: new inodes, links, unlinks and renames as the items the kernel keeps for them: the inode's INODE_REF
 * (index and name under its parent), the parent's DIR_ITEM (by name hash, colliding names packed together) and
 * DIR_INDEX (readdir order), and the parent's size (twice the sum of its names' lengths).
 */
final class NamespaceWriter {
    static final int NAME_MAX = 255;
    private static final int S_ISGID = 02000;

    private final InodeWriter w;
    private final FileWriter files;
    private final boolean extendedRefs;

    NamespaceWriter(InodeWriter w, FileWriter files, boolean extendedRefs) {
        this.w = w;
        this.files = files;
        this.extendedRefs = extendedRefs;
    }

    /** Creates an inode of {@code mode} named {@code name} in {@code dir}; returns it. */
    InodeId create(InodeId dir, String name, int mode, long rdev, int uid, int gid, byte[] symlinkTarget)
            throws FsException {
        byte[] n = checkName(name);
        w.checkWritable(dir.root());
        w.reserveMetadata(6);
        InodeItem parent = directory(dir);
        InodeWriter.refuseIf(parent, InodeFlags.IMMUTABLE, dir, "create in");
        if (findEntry(dir, n) != null) throw new FsException(Errno.EEXIST, name + " exists in " + dir);
        if ((parent.mode() & S_ISGID) != 0) {
            gid = (int) parent.gid();
            if ((mode & Stat.S_IFMT) == Stat.S_IFDIR) mode |= S_ISGID;
        }
        long ino = w.newObjectid(dir.root());
        InodeId id = new InodeId(dir.root(), ino);
        Timespec now = InodeWriter.now();
        long transid = w.transid();
        long size = 0;
        long nbytes = 0;
        if (symlinkTarget != null) {
            size = symlinkTarget.length;
            nbytes = symlinkTarget.length;
            w.tx().editor().insert(w.root(dir.root()), new Key(ino, KeyType.EXTENT_DATA, 0),
                    FileExtentItem.encodeInline(transid, symlinkTarget));
        }
        InodeItem item = new InodeItem(transid, transid, size, nbytes, 0, 1, uid & 0xffffffffL, gid & 0xffffffffL,
                mode, storedDev(rdev), inheritedFlags(parent.flags(), mode), 0, now, now, now, now);
        w.tx().editor().insert(w.root(dir.root()), new Key(ino, KeyType.INODE_ITEM, 0), item.encode());
        addEntry(dir, n, id, DirItem.typeOfMode(mode), now);
        return id;
    }

    /**
     * The flags a new inode takes from its directory (≈ btrfs_inherit_iflags): NOCOMPRESS or else COMPRESS, and
     * NODATACOW (chattr +C), which makes a regular file NODATASUM too.
     */
    static long inheritedFlags(long dirFlags, int mode) {
        long flags = 0;
        if ((dirFlags & InodeItem.FLAG_NOCOMPRESS) != 0) flags |= InodeItem.FLAG_NOCOMPRESS;
        else if ((dirFlags & InodeItem.FLAG_COMPRESS) != 0) flags |= InodeItem.FLAG_COMPRESS;
        if ((dirFlags & InodeItem.FLAG_NODATACOW) != 0) {
            flags |= InodeItem.FLAG_NODATACOW;
            if ((mode & Stat.S_IFMT) == Stat.S_IFREG) flags |= InodeItem.FLAG_NODATASUM;
        }
        return flags;
    }

    /** A new name for {@code target} in {@code dir}. */
    void link(InodeId target, InodeId dir, String name) throws FsException {
        byte[] n = checkName(name);
        if (target.root() != dir.root()) throw new FsException(Errno.EXDEV, "link across subvolumes");
        w.checkWritable(dir.root());
        w.reserveMetadata(5);
        InodeWriter.refuseIf(directory(dir), InodeFlags.IMMUTABLE, dir, "link in");
        InodeItem item = w.load(target);
        InodeWriter.refuseIf(item, InodeWriter.IMMUTABLE_OR_APPEND, target, "link");
        if ((item.mode() & Stat.S_IFMT) == Stat.S_IFDIR) throw new FsException(Errno.EPERM, "hard link to a directory");
        if (item.nlink() >= 65535) throw new FsException(Errno.EMLINK, "inode " + target + " has 65535 links");
        if (findEntry(dir, n) != null) throw new FsException(Errno.EEXIST, name + " exists in " + dir);
        Timespec now = InodeWriter.now();
        addEntry(dir, n, target, DirItem.typeOfMode(item.mode()), now);
        item = w.load(target);
        w.save(target, item.withNlink(item.nlink() + 1).withTimes(item.atime(), now, item.mtime()));
    }

    /** Removes {@code name} from {@code dir}: a non-directory when {@code directory} is false, else an empty one. */
    void remove(InodeId dir, String name, boolean directory) throws FsException {
        byte[] n = checkName(name);
        w.checkWritable(dir.root());
        w.reserveMetadata(8);
        InodeWriter.refuseIf(directory(dir), InodeWriter.IMMUTABLE_OR_APPEND, dir, "unlink in");
        DirItem entry = findEntry(dir, n);
        if (entry == null) throw new FsException(Errno.ENOENT, "no " + name + " in " + dir);
        if (entry.location().type() != KeyType.INODE_ITEM) {
            throw new FsException(Errno.EPERM, name + " is a subvolume; delete it with btrfs subvolume delete");
        }
        InodeId target = new InodeId(dir.root(), entry.location().objectid());
        InodeItem item = entryInode(dir, n, target);
        InodeWriter.refuseIf(item, InodeWriter.IMMUTABLE_OR_APPEND, target, "unlink");
        boolean isDir = (item.mode() & Stat.S_IFMT) == Stat.S_IFDIR;
        if (directory && !isDir) throw new FsException(Errno.ENOTDIR, name + " is not a directory");
        if (!directory && isDir) throw new FsException(Errno.EISDIR, name + " is a directory");
        if (isDir && hasEntries(target)) throw new FsException(Errno.ENOTEMPTY, name + " is not empty");
        Timespec now = InodeWriter.now();
        removeEntry(dir, n, target, now);
        dropLink(target, now);
    }

    /** rename(2) without flags (NOREPLACE is checked here too). */
    void rename(InodeId fromDir, String fromName, InodeId toDir, String toName, int flags) throws FsException {
        byte[] from = checkName(fromName);
        byte[] to = checkName(toName);
        if (fromDir.root() != toDir.root()) throw new FsException(Errno.EXDEV, "rename across subvolumes");
        if ((flags & FsOperations.RENAME_EXCHANGE) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "RENAME_EXCHANGE is not supported yet");
        }
        w.checkWritable(fromDir.root());
        w.reserveMetadata(14);
        InodeWriter.refuseIf(directory(fromDir), InodeWriter.IMMUTABLE_OR_APPEND, fromDir, "rename from");
        InodeItem toDirItem = directory(toDir);
        InodeWriter.refuseIf(toDirItem, InodeFlags.IMMUTABLE, toDir, "rename into");
        DirItem src = findEntry(fromDir, from);
        if (src == null) throw new FsException(Errno.ENOENT, "no " + fromName + " in " + fromDir);
        if (src.location().type() != KeyType.INODE_ITEM) {
            throw new FsException(Errno.EPERM, "renaming subvolumes is not supported yet");
        }
        InodeId moving = new InodeId(fromDir.root(), src.location().objectid());
        InodeItem movingItem = entryInode(fromDir, from, moving);
        InodeWriter.refuseIf(movingItem, InodeWriter.IMMUTABLE_OR_APPEND, moving, "rename");
        boolean movingDir = (movingItem.mode() & Stat.S_IFMT) == Stat.S_IFDIR;
        if (movingDir && isAncestor(moving, toDir)) {
            throw new FsException(Errno.EINVAL, "cannot move a directory into itself");
        }
        Timespec now = InodeWriter.now();
        DirItem dst = findEntry(toDir, to);
        if (dst != null) {
            if ((flags & FsOperations.RENAME_NOREPLACE) != 0) throw new FsException(Errno.EEXIST, toName + " exists");
            if (dst.location().type() != KeyType.INODE_ITEM) throw new FsException(Errno.EPERM, toName + " is a subvolume");
            InodeId victim = new InodeId(toDir.root(), dst.location().objectid());
            if (victim.equals(moving)) return; // two names of one inode: rename does nothing
            InodeItem v = entryInode(toDir, to, victim);
            InodeWriter.refuseIf(toDirItem, InodeFlags.APPEND, toDir, "replace in");
            InodeWriter.refuseIf(v, InodeWriter.IMMUTABLE_OR_APPEND, victim, "replace");
            boolean victimDir = (v.mode() & Stat.S_IFMT) == Stat.S_IFDIR;
            if (movingDir && !victimDir) throw new FsException(Errno.ENOTDIR, toName + " is not a directory");
            if (!movingDir && victimDir) throw new FsException(Errno.EISDIR, toName + " is a directory");
            if (victimDir && hasEntries(victim)) throw new FsException(Errno.ENOTEMPTY, toName + " is not empty");
            // both names whole before either goes: a damaged directory is refused with nothing changed
            locate(fromDir, from, moving);
            removeEntry(toDir, to, victim, now);
            dropLink(victim, now);
        }
        removeEntry(fromDir, from, moving, now);
        addEntry(toDir, to, moving, src.type(), now);
        InodeItem m = w.load(moving);
        w.save(moving, m.withTimes(m.atime(), now, m.mtime()));
    }

    private boolean isAncestor(InodeId dir, InodeId of) throws FsException {
        InodeId cur = of;
        for (int depth = 0; depth < 4096; depth++) {
            if (cur.equals(dir)) return true;
            Cursor c = w.tree(cur.root()).seek(Key.first(cur.objectid(), KeyType.INODE_REF));
            if (!c.valid() || c.key().objectid() != cur.objectid() || c.key().type() != KeyType.INODE_REF) return false;
            long parent = c.key().offset();
            if (parent == cur.objectid()) return false; // the subvolume root names itself ".."
            cur = new InodeId(cur.root(), parent);
        }
        return false;
    }

    // ---- entries ----

    /** Adds the three items of a name and grows the parent. */
    private void addEntry(InodeId dir, byte[] name, InodeId target, int type, Timespec now)
            throws FsException {
        long transid = w.transid();
        TreeRoot root = w.root(dir.root());
        long index = nextIndex(dir);
        // the inode ref: appended to the item for this parent if the inode already has a name there
        Key refKey = new Key(target.objectid(), KeyType.INODE_REF, dir.objectid());
        Cursor rc = w.tree(dir.root()).find(refKey);
        List<InodeRef> refs = rc == null ? new ArrayList<>()
                : new ArrayList<>(rc.decode(InodeRef::readAll));
        refs.add(new InodeRef(index, name));
        byte[] refData = InodeRef.encodeAll(refs);
        if (refData.length <= w.tx().editor().maxItemData()) {
            w.tx().editor().put(root, refKey, refData);
        } else if (extendedRefs) {
            // the kernel moves names that no longer fit the inode ref to extended refs keyed by name hash
            Key extKey = new Key(target.objectid(), KeyType.INODE_EXTREF, NameHash.extref(dir.objectid(), name));
            Cursor ec = w.tree(dir.root()).find(extKey);
            List<InodeExtref> ext = ec == null ? new ArrayList<>()
                    : new ArrayList<>(ec.decode(InodeExtref::readAll));
            ext.add(new InodeExtref(dir.objectid(), index, name));
            byte[] extData = InodeExtref.encodeAll(ext);
            if (extData.length > w.tx().editor().maxItemData()) {
                throw new FsException(Errno.EMLINK, "no room for another name of inode " + target + " in " + dir);
            }
            w.tx().editor().put(root, extKey, extData);
        } else {
            throw new FsException(Errno.EMLINK, "no room for another name of inode " + target + " in " + dir);
        }
        DirItem d = new DirItem(new Key(target.objectid(), KeyType.INODE_ITEM, 0), transid, type, name, new byte[0]);
        Key itemKey = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name));
        Cursor ic = w.tree(dir.root()).find(itemKey);
        List<DirItem> items = ic == null ? new ArrayList<>() : new ArrayList<>(Subvolumes.readDirItems(ic));
        items.add(d);
        w.tx().editor().put(root, itemKey, DirItem.encodeAll(items));
        w.tx().editor().insert(root, new Key(dir.objectid(), KeyType.DIR_INDEX, index), d.encode());
        InodeItem p = w.load(dir);
        w.save(dir, p.withSize(p.size() + 2L * name.length).withTimes(p.atime(), now, now));
    }

    /**
     * Removes the three items of one name and shrinks the parent (≈ btrfs_unlink_inode): the first dir item of
     * that name naming {@code target} (the one lookup found; a damaged directory may hold the name twice), the
     * inode ref of that name, and the DIR_INDEX the ref gives. Nothing else goes.
     */
    private void removeEntry(InodeId dir, byte[] name, InodeId target, Timespec now)
            throws FsException {
        TreeRoot root = w.root(dir.root());
        long index = locate(dir, name, target);
        removeRef(dir, target, name);
        Key itemKey = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name));
        List<DirItem> items = new ArrayList<>(Subvolumes.readDirItems(w.tree(dir.root()).find(itemKey)));
        items.remove(entryOf(items, name, target));
        if (items.isEmpty()) w.tx().editor().delete(root, itemKey);
        else w.tx().editor().put(root, itemKey, DirItem.encodeAll(items));
        w.tx().editor().delete(root, new Key(dir.objectid(), KeyType.DIR_INDEX, index));
        InodeItem p = w.load(dir);
        w.save(dir, p.withSize(p.size() - 2L * name.length).withTimes(p.atime(), now, now));
    }

    /**
     * Checks, before anything changes, that the name {@code name} of {@code target} in {@code dir} has all three
     * items: a dir item, an inode ref (or extref) and the DIR_INDEX at the ref's index naming the same. Returns that
     * index. A damaged directory is refused as corrupt: removing half a name (or another name's index) would
     * make it worse, where the kernel would abort its transaction.
     */
    private long locate(InodeId dir, byte[] name, InodeId target) throws FsException {
        Cursor ic = w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name)));
        if (ic == null || entryOf(Subvolumes.readDirItems(ic), name, target) < 0) {
            throw new FsException(Errno.ENOENT, "no " + str(name) + " naming inode " + target + " in " + dir);
        }
        long index = refIndex(dir, target, name);
        if (index < 0) throw damaged(ic, dir, name, "inode " + target.objectid() + " has no ref of that name");
        Cursor xc = w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_INDEX, index));
        if (xc == null) throw damaged(ic, dir, name, "its dir index " + index + " is missing");
        List<DirItem> indexed = Subvolumes.readDirItems(xc);
        if (indexed.size() != 1 || entryOf(indexed, name, target) != 0) {
            throw damaged(xc, dir, name, "dir index " + index + " names another entry");
        }
        return index;
    }

    /** The inode a name points at; a name whose inode is missing is corrupt, and is left as it is. */
    private InodeItem entryInode(InodeId dir, byte[] name, InodeId target) throws FsException {
        try {
            return w.load(target);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            Cursor ic = w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name)));
            throw damaged(ic, dir, name, "it names inode " + target.objectid() + ", which does not exist");
        }
    }

    /** The position of the first of {@code items} named {@code name} that points at inode {@code target}, or -1. */
    private static int entryOf(List<DirItem> items, byte[] name, InodeId target) {
        for (int i = 0; i < items.size(); i++) {
            DirItem d = items.get(i);
            if (Arrays.equals(d.name(), name) && d.location().type() == KeyType.INODE_ITEM
                    && d.location().objectid() == target.objectid()) {
                return i;
            }
        }
        return -1;
    }

    private static CorruptBlockException damaged(Cursor at, InodeId dir, byte[] name, String problem) {
        return new CorruptBlockException(dir.root(), at.leaf().bytenr(), at.slot(),
                "directory " + dir.objectid() + ", entry " + str(name) + ": " + problem);
    }

    /** The dir index of the inode ref (or extended ref) named {@code name} under {@code dir}, or -1. */
    private long refIndex(InodeId dir, InodeId target, byte[] name) throws FsException {
        Cursor rc = w.tree(dir.root()).find(new Key(target.objectid(), KeyType.INODE_REF, dir.objectid()));
        if (rc != null) {
            for (InodeRef r : rc.decode(InodeRef::readAll)) {
                if (Arrays.equals(r.name(), name)) return r.index();
            }
        }
        Cursor ec = w.tree(dir.root()).find(
                new Key(target.objectid(), KeyType.INODE_EXTREF, NameHash.extref(dir.objectid(), name)));
        if (ec != null) {
            for (InodeExtref r : ec.decode(InodeExtref::readAll)) {
                if (r.parentObjectid() == dir.objectid() && Arrays.equals(r.name(), name)) return r.index();
            }
        }
        return -1;
    }

    /** Removes the first inode ref (or extended ref) of {@code name} under {@code dir}, which {@link #locate} found. */
    private void removeRef(InodeId dir, InodeId target, byte[] name) throws FsException {
        TreeRoot root = w.root(dir.root());
        Key refKey = new Key(target.objectid(), KeyType.INODE_REF, dir.objectid());
        Cursor rc = w.tree(dir.root()).find(refKey);
        if (rc != null) {
            List<InodeRef> refs = new ArrayList<>(rc.decode(InodeRef::readAll));
            for (int i = 0; i < refs.size(); i++) {
                if (Arrays.equals(refs.get(i).name(), name)) {
                    refs.remove(i);
                    if (refs.isEmpty()) w.tx().editor().delete(root, refKey);
                    else w.tx().editor().put(root, refKey, InodeRef.encodeAll(refs));
                    return;
                }
            }
        }
        Key extKey = new Key(target.objectid(), KeyType.INODE_EXTREF, NameHash.extref(dir.objectid(), name));
        Cursor ec = w.tree(dir.root()).find(extKey);
        List<InodeExtref> ext = new ArrayList<>(ec.decode(InodeExtref::readAll));
        for (int i = 0; i < ext.size(); i++) {
            InodeExtref r = ext.get(i);
            if (r.parentObjectid() == dir.objectid() && Arrays.equals(r.name(), name)) {
                ext.remove(i);
                if (ext.isEmpty()) w.tx().editor().delete(root, extKey);
                else w.tx().editor().put(root, extKey, InodeExtref.encodeAll(ext));
                return;
            }
        }
    }

    /** One name fewer: ctime moves; at zero names the inode and everything it holds goes. */
    private void dropLink(InodeId target, Timespec now) throws FsException {
        InodeItem item = w.load(target);
        boolean isDir = (item.mode() & Stat.S_IFMT) == Stat.S_IFDIR;
        long nlink = isDir ? 0 : item.nlink() - 1;
        if (nlink > 0) {
            w.save(target, item.withNlink(nlink).withTimes(item.atime(), now, item.mtime()));
            return;
        }
        files.deleteInode(target);
    }

    /** The next DIR_INDEX of {@code dir}: one past the highest, at least 2. */
    private long nextIndex(InodeId dir) throws FsException {
        Cursor c = w.tree(dir.root()).seekFloor(Key.last(dir.objectid(), KeyType.DIR_INDEX));
        if (c.valid() && c.key().objectid() == dir.objectid() && c.key().type() == KeyType.DIR_INDEX) {
            return Math.max(2, c.key().offset() + 1);
        }
        return 2;
    }

    private boolean hasEntries(InodeId dir) throws FsException {
        Cursor c = w.tree(dir.root()).seek(Key.first(dir.objectid(), KeyType.DIR_INDEX));
        return c.valid() && c.key().objectid() == dir.objectid() && c.key().type() == KeyType.DIR_INDEX;
    }

    DirItem findEntry(InodeId dir, byte[] name) throws FsException {
        Cursor c = w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name)));
        if (c == null) return null;
        for (DirItem d : Subvolumes.readDirItems(c)) if (Arrays.equals(d.name(), name)) return d;
        return null;
    }

    private InodeItem directory(InodeId dir) throws FsException {
        InodeItem item = w.load(dir);
        if ((item.mode() & Stat.S_IFMT) != Stat.S_IFDIR) throw new FsException(Errno.ENOTDIR, dir + " is not a directory");
        return item;
    }

    static byte[] checkName(String name) throws FsException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        if (n.length > NAME_MAX) throw new FsException(Errno.ENAMETOOLONG, "name of " + n.length + " bytes");
        if (n.length == 0 || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0) {
            throw new FsException(Errno.EINVAL, "bad name '" + name + "'");
        }
        return n;
    }

    /** The kernel's internal dev_t (major << 20 | minor) from the user-space (new_encode_dev) form. */
    static long storedDev(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        return (major << 20) | (minor & 0xfffff);
    }

    private static String str(byte[] b) { return new String(b, StandardCharsets.UTF_8); }
}
