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
import jbtrfs.format.Timespec;

/**
 * Names: new inodes, links, unlinks and renames as the items the kernel keeps for them: the inode's INODE_REF
 * (index and name under its parent), the parent's DIR_ITEM (by name hash, colliding names packed together) and
 * DIR_INDEX (readdir order), and the parent's size (twice the sum of its names' lengths).
 */
final class NamespaceWriter {
    static final int NAME_MAX = 255;
    /** renameat2's RENAME_WHITEOUT (overlayfs leaves a whiteout device in the old name's place). */
    private static final int RENAME_WHITEOUT = 4;

    private final InodeWriter w;
    private final FileExtentWriter files;
    private final boolean extendedRefs;
    private final Orphans orphans;
    /** Whether an inode whose last name goes lives on as an orphan until {@link Orphans#evict} (else it goes now). */
    private final boolean evicting;

    NamespaceWriter(InodeWriter w, FileExtentWriter files, boolean extendedRefs, Orphans orphans, boolean evicting) {
        this.w = w;
        this.files = files;
        this.extendedRefs = extendedRefs;
        this.orphans = orphans;
        this.evicting = evicting;
    }

    /** Creates an inode of {@code mode} named {@code name} in {@code dir}; returns it. */
    InodeId create(InodeId dir, String name, int mode, long rdev, int uid, int gid, byte[] symlinkTarget)
            throws FsException {
        byte[] n = checkName(name);
        w.checkWritable(dir.root());
        w.reserveMetadata(6);
        InodeItem parent = directory(dir);
        InodeWriter.refuseIf(parent, InodeFlags.IMMUTABLE, dir, "create in");
        List<DirItem> sameHash = dirItems(dir, n);
        for (DirItem d : sameHash) {
            if (Arrays.equals(d.name(), n)) throw new FsException(Errno.EEXIST, name + " exists in " + dir);
        }
        Timespec now = w.time();
        InodeId id = newInode(dir, parent, mode, rdev, uid, gid, symlinkTarget, 1, now);
        // a new inode has no ref to append to, and the dir items at its name's hash were just read
        addEntry(dir, n, id, DirItem.typeOfMode(mode), now, nextIndex(dir), sameHash);
        return id;
    }

    /**
     * O_TMPFILE (≈ btrfs_tmpfile): a regular file in {@code dir}'s subvolume with no name, nlink 0 and an orphan
     * item, owned and flagged as a file created in {@code dir} would be; {@link #link} names it.
     */
    InodeId tmpfile(InodeId dir, int mode, int uid, int gid) throws FsException {
        w.checkWritable(dir.root());
        w.reserveMetadata(4);
        InodeItem parent = directory(dir);
        InodeWriter.refuseIf(parent, InodeFlags.IMMUTABLE, dir, "create in");
        InodeId id = newInode(dir, parent, Stat.S_IFREG | (mode & 07777), 0, uid, gid, null, 0, w.time());
        orphans.add(id);
        return id;
    }

    /** The items of a new inode of {@code nlink} names in {@code dir}'s subvolume (the names are the caller's). */
    private InodeId newInode(InodeId dir, InodeItem parent, int mode, long rdev, int uid, int gid,
                             byte[] symlinkTarget, int nlink, Timespec now) throws FsException {
        if ((parent.mode() & SetIdBits.S_ISGID) != 0) {
            gid = (int) parent.gid();
            if ((mode & Stat.S_IFMT) == Stat.S_IFDIR) mode |= SetIdBits.S_ISGID;
        }
        long ino = w.newObjectid(dir.root());
        InodeId id = new InodeId(dir.root(), ino);
        long transid = w.transid();
        long size = 0;
        long nbytes = 0;
        if (symlinkTarget != null) {
            size = symlinkTarget.length;
            nbytes = symlinkTarget.length;
            w.tx().editor().insert(w.root(dir.root()), new Key(ino, KeyType.EXTENT_DATA, 0),
                    FileExtentItem.encodeInline(transid, symlinkTarget));
        }
        InodeItem item = new InodeItem(transid, transid, size, nbytes, 0, nlink, uid & 0xffffffffL,
                gid & 0xffffffffL, mode, Inodes.storedDev(rdev), InodeFlags.inherited(parent.flags(), mode), 0,
                now, now, now, now);
        w.tx().editor().insert(w.root(dir.root()), new Key(ino, KeyType.INODE_ITEM, 0), item.encode());
        return id;
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
        Timespec now = w.time();
        addEntry(dir, n, target, DirItem.typeOfMode(item.mode()), now);
        item = w.load(target);
        // its first name: an O_TMPFILE (or an orphan) is an orphan no more (btrfs_link)
        if (item.nlink() == 0) orphans.delete(target);
        w.save(target, item.withNlink(item.nlink() + 1).withTimes(item.atime(), now, item.mtime()));
    }

    /** Removes {@code name} from {@code dir}: a non-directory when {@code directory} is false, else an empty one. */
    void remove(InodeId dir, String name, boolean directory) throws FsException {
        byte[] n = checkName(name);
        w.checkWritable(dir.root());
        w.reserveMetadata(8);
        InodeItem parent = directory(dir);
        InodeWriter.refuseIf(parent, InodeWriter.IMMUTABLE_OR_APPEND, dir, "unlink in");
        List<DirItem> sameHash = dirItems(dir, n);
        DirItem entry = named(sameHash, n);
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
        Timespec now = w.time();
        // the directory, its dir items at the name's hash and the inode as read above: unchanged until here
        removeEntry(dir, n, target, now, parent, sameHash);
        dropLink(target, item, now);
    }

    /** renameat2(2): plain, {@link FsOperations#RENAME_NOREPLACE} or {@link FsOperations#RENAME_EXCHANGE}. */
    void rename(InodeId fromDir, String fromName, InodeId toDir, String toName, int flags) throws FsException {
        checkRenameFlags(flags);
        byte[] from = checkName(fromName);
        byte[] to = checkName(toName);
        if (fromDir.root() != toDir.root()) throw new FsException(Errno.EXDEV, "rename across subvolumes");
        if ((flags & FsOperations.RENAME_EXCHANGE) != 0) {
            exchange(fromDir, from, toDir, to);
            return;
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
        Timespec now = w.time();
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

    /** The VFS's checks of renameat2's flags: known ones only, EXCHANGE alone; WHITEOUT we do not make. */
    private static void checkRenameFlags(int flags) throws FsException {
        int known = FsOperations.RENAME_NOREPLACE | FsOperations.RENAME_EXCHANGE | RENAME_WHITEOUT;
        if ((flags & ~known) != 0) throw new FsException(Errno.EINVAL, "unknown rename flags " + flags);
        if ((flags & FsOperations.RENAME_EXCHANGE) != 0 && (flags & ~FsOperations.RENAME_EXCHANGE) != 0) {
            throw new FsException(Errno.EINVAL, "RENAME_EXCHANGE with other flags");
        }
        if ((flags & RENAME_WHITEOUT) != 0) throw new FsException(Errno.EINVAL, "RENAME_WHITEOUT");
    }

    /**
     * RENAME_EXCHANGE (≈ btrfs_rename_exchange): both names must exist; each name then points at the other's inode,
     * with new dir indexes taken in both directories before either name goes; a directory's inode ref (its "..")
     * follows it; both inodes' ctime moves, both directories' mtime and ctime.
     */
    private void exchange(InodeId fromDir, byte[] from, InodeId toDir, byte[] to) throws FsException {
        w.checkWritable(fromDir.root());
        w.reserveMetadata(20);
        InodeWriter.refuseIf(directory(fromDir), InodeWriter.IMMUTABLE_OR_APPEND, fromDir, "exchange in");
        InodeWriter.refuseIf(directory(toDir), InodeWriter.IMMUTABLE_OR_APPEND, toDir, "exchange in");
        DirItem a = findEntry(fromDir, from);
        if (a == null) throw new FsException(Errno.ENOENT, "no " + str(from) + " in " + fromDir);
        DirItem b = findEntry(toDir, to);
        if (b == null) throw new FsException(Errno.ENOENT, "no " + str(to) + " in " + toDir);
        if (a.location().type() != KeyType.INODE_ITEM || b.location().type() != KeyType.INODE_ITEM) {
            throw new FsException(Errno.EPERM, "exchanging subvolumes is not supported yet");
        }
        InodeId ia = new InodeId(fromDir.root(), a.location().objectid());
        InodeId ib = new InodeId(toDir.root(), b.location().objectid());
        if (ia.equals(ib)) return; // two names of one inode: nothing to do, as the VFS decides
        InodeItem ai = entryInode(fromDir, from, ia);
        InodeItem bi = entryInode(toDir, to, ib);
        InodeWriter.refuseIf(ai, InodeWriter.IMMUTABLE_OR_APPEND, ia, "exchange");
        InodeWriter.refuseIf(bi, InodeWriter.IMMUTABLE_OR_APPEND, ib, "exchange");
        if (isDir(ai) && isAncestor(ia, toDir) || isDir(bi) && isAncestor(ib, fromDir)) {
            throw new FsException(Errno.EINVAL, "cannot exchange a directory with something inside it");
        }
        locate(fromDir, from, ia);
        locate(toDir, to, ib);
        long indexA = nextIndex(toDir);
        long indexB = fromDir.equals(toDir) ? indexA + 1 : nextIndex(fromDir);
        Timespec now = w.time();
        removeEntry(fromDir, from, ia, now);
        removeEntry(toDir, to, ib, now);
        addEntry(toDir, to, ia, a.type(), now, indexA);
        addEntry(fromDir, from, ib, b.type(), now, indexB);
        for (InodeId id : List.of(ia, ib)) {
            InodeItem i = w.load(id);
            w.save(id, i.withTimes(i.atime(), now, i.mtime()));
        }
    }

    private static boolean isDir(InodeItem item) { return (item.mode() & Stat.S_IFMT) == Stat.S_IFDIR; }

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

    /** Adds the three items of a name, at the directory's next index, and grows the parent. */
    private void addEntry(InodeId dir, byte[] name, InodeId target, int type, Timespec now)
            throws FsException {
        addEntry(dir, name, target, type, now, nextIndex(dir));
    }

    /** Adds the three items of a name at dir index {@code index} and grows the parent. */
    private void addEntry(InodeId dir, byte[] name, InodeId target, int type, Timespec now, long index)
            throws FsException {
        addEntry(dir, name, target, type, now, index, null);
    }

    /**
     * As above; {@code newInodeSameHash}, when not null, says {@code target} is a new inode (no ref to look for)
     * and holds the dir items already at the name's hash.
     */
    private void addEntry(InodeId dir, byte[] name, InodeId target, int type, Timespec now, long index,
                          List<DirItem> newInodeSameHash) throws FsException {
        long transid = w.transid();
        TreeRoot root = w.root(dir.root());
        // the inode ref: appended to the item for this parent if the inode already has a name there
        Key refKey = new Key(target.objectid(), KeyType.INODE_REF, dir.objectid());
        Cursor rc = newInodeSameHash != null ? null : w.tree(dir.root()).find(refKey);
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
        List<DirItem> items = new ArrayList<>(newInodeSameHash != null ? newInodeSameHash : dirItems(dir, name));
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
        removeEntry(dir, name, target, now, w.load(dir), dirItems(dir, name));
    }

    /** As above, given the directory's inode item and the dir items at the name's hash, as they are now. */
    private void removeEntry(InodeId dir, byte[] name, InodeId target, Timespec now, InodeItem parent,
                             List<DirItem> sameHash) throws FsException {
        TreeRoot root = w.root(dir.root());
        InodeRefs.Found ref = locate(dir, name, target, sameHash);
        InodeRefs.remove(w, root, ref);
        Key itemKey = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name));
        List<DirItem> items = new ArrayList<>(sameHash);
        items.remove(entryOf(items, name, target));
        if (items.isEmpty()) w.tx().editor().deletePresent(root, itemKey);
        else w.tx().editor().put(root, itemKey, DirItem.encodeAll(items));
        w.tx().editor().deletePresent(root, new Key(dir.objectid(), KeyType.DIR_INDEX, ref.index()));
        w.save(dir, parent.withSize(parent.size() - 2L * name.length).withTimes(parent.atime(), now, now));
    }

    /** {@link #locate(InodeId, byte[], InodeId, List)} with the dir items read now. */
    private void locate(InodeId dir, byte[] name, InodeId target) throws FsException {
        locate(dir, name, target, dirItems(dir, name));
    }

    /**
     * Checks, before anything changes, that the name {@code name} of {@code target} in {@code dir} has all three
     * items: a dir item (among {@code sameHash}, the dir items at the name's hash), an inode ref (or extref) and the
     * DIR_INDEX at the ref's index naming the same. Returns the ref. A damaged directory is refused as corrupt:
     * removing half a name (or another name's index) would make it worse, where the kernel would abort its
     * transaction.
     */
    private InodeRefs.Found locate(InodeId dir, byte[] name, InodeId target, List<DirItem> sameHash)
            throws FsException {
        if (entryOf(sameHash, name, target) < 0) {
            throw new FsException(Errno.ENOENT, "no " + str(name) + " naming inode " + target + " in " + dir);
        }
        InodeRefs.Found ref = InodeRefs.find(w, dir, target, name);
        if (ref == null) {
            throw damaged(dirItem(dir, name), dir, name, "inode " + target.objectid() + " has no ref of that name");
        }
        Cursor xc = w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_INDEX, ref.index()));
        if (xc == null) throw damaged(dirItem(dir, name), dir, name, "its dir index " + ref.index() + " is missing");
        List<DirItem> indexed = Subvolumes.readDirItems(xc);
        if (indexed.size() != 1 || entryOf(indexed, name, target) != 0) {
            throw damaged(xc, dir, name, "dir index " + ref.index() + " names another entry");
        }
        return ref;
    }

    private Cursor dirItem(InodeId dir, byte[] name) throws FsException {
        return w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name)));
    }

    /** The inode a name points at; a name whose inode is missing is corrupt, and is left as it is. */
    private InodeItem entryInode(InodeId dir, byte[] name, InodeId target) throws FsException {
        try {
            return w.load(target);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            throw damaged(dirItem(dir, name), dir, name,
                    "it names inode " + target.objectid() + ", which does not exist");
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

    /**
     * One name fewer: ctime moves; at zero names the inode and everything it holds goes, or, where the transport
     * evicts, it lives on with nlink 0 and an orphan item until evicted (btrfs_unlink's btrfs_orphan_add).
     */
    private void dropLink(InodeId target, Timespec now) throws FsException {
        dropLink(target, w.load(target), now);
    }

    /** As above, given the inode's item as it is now. */
    private void dropLink(InodeId target, InodeItem item, Timespec now) throws FsException {
        boolean isDir = (item.mode() & Stat.S_IFMT) == Stat.S_IFDIR;
        long nlink = isDir ? 0 : item.nlink() - 1;
        if (nlink > 0 || evicting) {
            if (nlink == 0) orphans.add(target);
            w.save(target, item.withNlink(nlink).withTimes(item.atime(), now, item.mtime()));
            return;
        }
        files.deleteInode(target);
    }

    /** The next DIR_INDEX of {@code dir}: one past the highest, at least 2. */
    long nextIndex(InodeId dir) throws FsException {
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
        return named(dirItems(dir, name), name);
    }

    /** The first of {@code items} named {@code name}, or null. */
    private static DirItem named(List<DirItem> items, byte[] name) {
        for (DirItem d : items) if (Arrays.equals(d.name(), name)) return d;
        return null;
    }

    /** The dir items of every name in {@code dir} with the hash of {@code name} (empty when none). */
    private List<DirItem> dirItems(InodeId dir, byte[] name) throws FsException {
        Cursor c = w.tree(dir.root()).find(new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name)));
        return c == null ? List.of() : Subvolumes.readDirItems(c);
    }

    InodeItem directory(InodeId dir) throws FsException {
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

    private static String str(byte[] b) { return new String(b, StandardCharsets.UTF_8); }
}
