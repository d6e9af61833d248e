package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.DirItem;
import jbtrfs.format.Features;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.RootRef;
import jbtrfs.format.Timespec;
import jbtrfs.format.Uuids;
import jbtrfs.tx.Transaction;

/**
 * Subvolumes and snapshots made, deleted and flagged as the kernel does (ioctl.c create_subvol and
 * btrfs_delete_subvolume, transaction.c create_pending_snapshot, btrfs_ioctl_subvol_setflags and
 * btrfs_ioctl_default_subvol): root items with their uuids and transids, ROOT_REF and ROOT_BACKREF, the entry in the
 * parent directory whose location is the root item, the uuid tree. The caller commits each at once; a snapshot's
 * source must be committed before (its committed root is what is copied). Under the write lock only.
 */
final class SubvolumeWriter {
    private static final byte[] DEFAULT_NAME = "default".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DOTDOT = "..".getBytes(StandardCharsets.US_ASCII);

    private final InodeWriter w;
    private final NamespaceWriter names;
    private final Subvolumes subvolumes;
    /** The lowest id a new subvolume may take (≈ the root tree's free_objectid: ids of dropped ones stay unused). */
    private long nextId;

    SubvolumeWriter(InodeWriter w, NamespaceWriter names, Subvolumes subvolumes) {
        this.w = w;
        this.names = names;
        this.subvolumes = subvolumes;
    }

    /** A root item as the root tree holds it now: its key and bytes. */
    record RawRootItem(Key key, byte[] bytes) {
        ByteBuffer buffer() { return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN); }

        RootItem decode() { return RootItem.read(buffer(), 0, bytes.length); }
    }

    /** A new empty subvolume {@code name} in {@code parentDir} (create_subvol); returns its id. */
    long create(InodeId parentDir, String name, Caller caller) throws FsException {
        byte[] n = NamespaceWriter.checkName(name);
        InodeItem parent = checkCreate(parentDir, n, caller);
        w.reserveMetadata(16);
        Transaction tx = w.tx();
        long id = newSubvolumeId();
        long transid = tx.transid();
        Timespec now = w.time();
        TreeRoot tree = tx.createTree(id);
        // its root directory: the caller's, or the parent's group under a set-group-ID parent (inode_init_owner)
        int mode = Stat.S_IFDIR | 0755;
        long gid = caller.gid() & 0xffffffffL;
        if ((parent.mode() & SetIdBits.S_ISGID) != 0) {
            gid = parent.gid();
            mode |= SetIdBits.S_ISGID;
        }
        // no flags from the directory: the kernel's subvolume takes only its parent subvolume's properties
        InodeItem dir = new InodeItem(transid, transid, 0, 0, 0, 1, caller.uid() & 0xffffffffL, gid, mode, 0, 0, 0,
                now, now, now, now);
        tx.editor().insert(tree, new Key(ObjectIds.FIRST_FREE_DIR, KeyType.INODE_ITEM, 0), dir.encode());
        tx.editor().insert(tree, new Key(ObjectIds.FIRST_FREE_DIR, KeyType.INODE_REF, ObjectIds.FIRST_FREE_DIR),
                new InodeRef(0, DOTDOT).encode());
        byte[] uuid = randomUuid();
        tx.editor().insert(w.root(ObjectIds.ROOT_TREE), new Key(id, KeyType.ROOT_ITEM, 0),
                newRootItem(tree.bytenr(), transid, uuid, now));
        UuidTree.add(tx, w.manager().nodesize(), uuid, KeyType.UUID_KEY_SUBVOL, id);
        link(parentDir, n, id, new Key(id, KeyType.ROOT_ITEM, 0), now);
        return id;
    }

    /**
     * A snapshot of subvolume {@code source} named {@code name} in {@code parentDir} (create_pending_snapshot):
     * the source's committed root copied, its root item copied with a new uuid, the source's as parent uuid, this
     * transaction as otransid and as both trees' last_snapshot, read-only when asked; returns its id.
     */
    long snapshot(long source, InodeId parentDir, String name, boolean readOnly, Caller caller) throws FsException {
        byte[] n = NamespaceWriter.checkName(name);
        RawRootItem src = liveRootItem(source);
        RootItem srcItem = src.decode();
        InodeItem srcDir = w.load(new InodeId(source, srcItem.rootDirid()));
        if (!caller.root() && srcDir.uid() != (caller.uid() & 0xffffffffL)) {
            throw new FsException(Errno.EPERM, "snapshot of subvolume " + source + ": not its owner");
        }
        checkCreate(parentDir, n, caller);
        w.reserveMetadata(16);
        Transaction tx = w.tx();
        long id = newSubvolumeId();
        long transid = tx.transid();
        Timespec now = w.time();
        TreeRoot copy = tx.copyRoot(source, id);
        // the source's blocks up to now are shared from here on: its last_snapshot, which the copy inherits
        src.buffer().putLong(RootItem.OFFSET_LAST_SNAPSHOT, transid);
        tx.editor().put(w.root(ObjectIds.ROOT_TREE), src.key(), src.bytes());
        ByteBuffer b = ByteBuffer.wrap(Arrays.copyOf(src.bytes(), RootItem.SIZE)).order(ByteOrder.LITTLE_ENDIAN);
        long flags = srcItem.flags() & ~RootItem.FLAG_SUBVOL_DEAD;
        b.putLong(RootItem.OFFSET_FLAGS, readOnly ? flags | RootItem.FLAG_SUBVOL_RDONLY
                : flags & ~RootItem.FLAG_SUBVOL_RDONLY);
        b.putLong(RootItem.OFFSET_GENERATION_V2, transid);
        byte[] uuid = randomUuid();
        b.put(RootItem.OFFSET_UUID, uuid).put(RootItem.OFFSET_PARENT_UUID, srcItem.uuid());
        if (!readOnly) clearReceived(b);
        now.write(b, RootItem.OFFSET_OTIME);
        b.putLong(RootItem.OFFSET_OTRANSID, transid);
        b.putLong(RootItem.OFFSET_BYTENR, copy.bytenr()).put(RootItem.OFFSET_LEVEL, (byte) copy.level())
                .putLong(RootItem.OFFSET_GENERATION, transid).putInt(RootItem.OFFSET_REFS, 1);
        new Key(0, 0, 0).write(b, RootItem.OFFSET_DROP_PROGRESS);
        b.put(RootItem.OFFSET_DROP_LEVEL, (byte) 0);
        // the key's offset records the transaction that made the snapshot
        tx.editor().insert(w.root(ObjectIds.ROOT_TREE), new Key(id, KeyType.ROOT_ITEM, transid), b.array());
        UuidTree.add(tx, w.manager().nodesize(), uuid, KeyType.UUID_KEY_SUBVOL, id);
        byte[] received = Uuids.read(b, RootItem.OFFSET_RECEIVED_UUID);
        if (!UuidTree.isEmpty(received)) {
            UuidTree.add(tx, w.manager().nodesize(), received, KeyType.UUID_KEY_RECEIVED_SUBVOL, id);
        }
        link(parentDir, n, id, new Key(id, KeyType.ROOT_ITEM, -1L), now);
        return id;
    }

    /**
     * Deletes the subvolume entry {@code name} of {@code parentDir} (btrfs_delete_subvolume): the entry, ROOT_REF,
     * ROOT_BACKREF and uuid tree entries go, the root item keeps no reference and is marked dead, and an orphan item
     * names it for the cleaner, which drops the tree. Returns the subvolume's id.
     */
    long delete(InodeId parentDir, String name, Caller caller) throws FsException {
        byte[] n = NamespaceWriter.checkName(name);
        if (!caller.root()) throw new FsException(Errno.EPERM, "deleting a subvolume takes root");
        w.checkWritable(parentDir.root());
        InodeItem parent = names.directory(parentDir);
        InodeWriter.refuseIf(parent, InodeWriter.IMMUTABLE_OR_APPEND, parentDir, "delete a subvolume in");
        DirItem entry = names.findEntry(parentDir, n);
        if (entry == null) throw new FsException(Errno.ENOENT, "no " + name + " in " + parentDir);
        long child = entry.location().objectid();
        Cursor refc = entry.location().type() == KeyType.ROOT_ITEM
                ? w.tree(ObjectIds.ROOT_TREE).find(new Key(parentDir.root(), KeyType.ROOT_REF, child)) : null;
        RootRef ref = refc == null ? null : refc.decode(RootRef::read);
        if (ref == null || ref.dirid() != parentDir.objectid() || !Arrays.equals(ref.name(), n)) {
            throw new FsException(Errno.EINVAL, name + " is not a subvolume");
        }
        if (child == subvolumes.defaultSubvolume()) {
            throw new FsException(Errno.EPERM, "subvolume " + child + " is the default subvolume");
        }
        Cursor nested = w.tree(ObjectIds.ROOT_TREE).seek(Key.first(child, KeyType.ROOT_REF));
        if (nested.valid() && nested.key().objectid() == child && nested.key().type() == KeyType.ROOT_REF) {
            throw new FsException(Errno.ENOTEMPTY, "subvolume " + child + " holds subvolume "
                    + nested.key().offset());
        }
        w.reserveMetadata(16);
        Transaction tx = w.tx();
        Timespec now = w.time();
        unlink(parentDir, n, child, ref.sequence(), now);
        RawRootItem raw = liveRootItem(child);
        RootItem item = raw.decode();
        ByteBuffer b = raw.buffer();
        b.putInt(RootItem.OFFSET_REFS, 0);
        b.putLong(RootItem.OFFSET_FLAGS, item.flags() | RootItem.FLAG_SUBVOL_DEAD);
        tx.editor().put(w.root(ObjectIds.ROOT_TREE), raw.key(), raw.bytes());
        UuidTree.remove(tx, item.uuid(), KeyType.UUID_KEY_SUBVOL, child);
        UuidTree.remove(tx, item.receivedUuid(), KeyType.UUID_KEY_RECEIVED_SUBVOL, child);
        tx.editor().insert(w.root(ObjectIds.ROOT_TREE), new Key(ObjectIds.ORPHAN, KeyType.ORPHAN_ITEM, child),
                new byte[0]);
        return child;
    }

    /**
     * Sets or clears BTRFS_ROOT_SUBVOL_RDONLY (btrfs_ioctl_subvol_setflags). A received subvolume made writable
     * forgets where it was received from (received_uuid, stransid, rtransid, stime, rtime, its uuid tree entry), as
     * the kernel does: incremental send would trust a tree that changed.
     */
    void setReadOnly(long subvol, boolean readOnly, Caller caller) throws FsException {
        RawRootItem raw = liveRootItem(subvol);
        RootItem item = raw.decode();
        InodeItem dir = w.load(new InodeId(subvol, item.rootDirid()));
        if (!caller.root() && dir.uid() != (caller.uid() & 0xffffffffL)) {
            throw new FsException(Errno.EPERM, "read-only flag of subvolume " + subvol + ": not its owner");
        }
        if (item.readOnly() == readOnly) return;
        w.reserveMetadata(4);
        Transaction tx = w.tx();
        ByteBuffer b = raw.buffer();
        b.putLong(RootItem.OFFSET_FLAGS, readOnly ? item.flags() | RootItem.FLAG_SUBVOL_RDONLY
                : item.flags() & ~RootItem.FLAG_SUBVOL_RDONLY);
        if (!readOnly && !UuidTree.isEmpty(item.receivedUuid()) && raw.bytes().length >= RootItem.SIZE) {
            UuidTree.remove(tx, item.receivedUuid(), KeyType.UUID_KEY_RECEIVED_SUBVOL, subvol);
            clearReceived(b);
        }
        tx.editor().put(w.root(ObjectIds.ROOT_TREE), raw.key(), raw.bytes());
    }

    /**
     * Points the root tree's "default" dir item at subvolume {@code subvol} (0: the top level), as
     * btrfs_ioctl_default_subvol does, and sets the DEFAULT_SUBVOL incompat bit.
     */
    void setDefault(long subvol, Caller caller) throws FsException {
        if (!caller.root()) throw new FsException(Errno.EPERM, "setting the default subvolume takes root");
        long id = subvol == 0 ? ObjectIds.FS_TREE : subvol;
        if (!ObjectIds.isSubvolume(id)) throw new FsException(Errno.ENOENT, "no subvolume " + subvol);
        RawRootItem raw = liveRootItem(id);
        Key dirKey = new Key(ObjectIds.ROOT_TREE_DIR, KeyType.DIR_ITEM, NameHash.of(DEFAULT_NAME));
        Cursor c = w.tree(ObjectIds.ROOT_TREE).find(dirKey);
        List<DirItem> items = c == null ? List.of() : new ArrayList<>(Subvolumes.readDirItems(c));
        int at = -1;
        for (int i = 0; i < items.size(); i++) if (Arrays.equals(items.get(i).name(), DEFAULT_NAME)) at = i;
        if (at < 0) throw new FsException(Errno.ENOENT, "the root tree has no \"default\" dir item");
        w.reserveMetadata(2);
        DirItem d = items.get(at);
        items.set(at, new DirItem(raw.key(), d.transid(), d.type(), d.name(), d.data()));
        w.tx().editor().put(w.root(ObjectIds.ROOT_TREE), dirKey, DirItem.encodeAll(items));
        w.manager().requireIncompat(Features.INCOMPAT_DEFAULT_SUBVOL);
    }

    /** The live root item of subvolume {@code id}; ENOENT when it has none or it is deleted. */
    RawRootItem liveRootItem(long id) throws FsException {
        RawRootItem raw = ObjectIds.isSubvolume(id) ? rawRootItem(id) : null;
        if (raw == null || raw.decode().refs() == 0) throw new FsException(Errno.ENOENT, "no subvolume " + id);
        return raw;
    }

    /** The root item of tree {@code id} in the running transaction's root tree, or null. */
    RawRootItem rawRootItem(long id) throws FsException {
        Cursor c = w.tree(ObjectIds.ROOT_TREE).seekFloor(Key.last(id, KeyType.ROOT_ITEM));
        if (!c.valid() || c.key().objectid() != id || c.key().type() != KeyType.ROOT_ITEM) return null;
        Key key = c.key();
        byte[] bytes = c.decode((buf, off, size) -> {
            byte[] out = new byte[size];
            buf.get(off, out);
            return out;
        });
        return new RawRootItem(key, bytes);
    }

    // ---- entries ----

    /** btrfs_may_create: the name is free, the directory writable and searchable by the caller; returns it. */
    private InodeItem checkCreate(InodeId parentDir, byte[] name, Caller caller) throws FsException {
        w.checkWritable(parentDir.root());
        InodeItem parent = names.directory(parentDir);
        if (names.findEntry(parentDir, name) != null) {
            throw new FsException(Errno.EEXIST, new String(name, StandardCharsets.UTF_8) + " exists in " + parentDir);
        }
        if (!mayWriteAndSearch(parent, caller)) {
            throw new FsException(Errno.EACCES, "no write and search permission on " + parentDir);
        }
        InodeWriter.refuseIf(parent, InodeFlags.IMMUTABLE, parentDir, "create a subvolume in");
        return parent;
    }

    /** generic_permission for MAY_WRITE | MAY_EXEC on a directory: root always, else the class the caller is in. */
    private static boolean mayWriteAndSearch(InodeItem dir, Caller caller) {
        if (caller.root()) return true;
        int mode = dir.mode();
        int bits = dir.uid() == (caller.uid() & 0xffffffffL) ? mode >> 6
                : caller.inGroup((int) dir.gid()) ? mode >> 3 : mode;
        return (bits & 03) == 03;
    }

    /** The subvolume's entry in {@code dir} at its next index, and ROOT_REF and ROOT_BACKREF (btrfs_add_link). */
    private void link(InodeId dir, byte[] name, long child, Key location, Timespec now) throws FsException {
        Transaction tx = w.tx();
        TreeRoot root = w.root(dir.root());
        long index = names.nextIndex(dir);
        DirItem d = new DirItem(location, tx.transid(), DirItem.FT_DIR, name, new byte[0]);
        Key itemKey = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name));
        Cursor ic = w.tree(dir.root()).find(itemKey);
        List<DirItem> items = ic == null ? new ArrayList<>() : new ArrayList<>(Subvolumes.readDirItems(ic));
        items.add(d);
        tx.editor().put(root, itemKey, DirItem.encodeAll(items));
        tx.editor().insert(root, new Key(dir.objectid(), KeyType.DIR_INDEX, index), d.encode());
        InodeItem p = w.load(dir);
        w.save(dir, p.withSize(p.size() + 2L * name.length).withTimes(p.atime(), now, now));
        byte[] ref = new RootRef(dir.objectid(), index, name).encode();
        TreeRoot rootTree = w.root(ObjectIds.ROOT_TREE);
        tx.editor().insert(rootTree, new Key(dir.root(), KeyType.ROOT_REF, child), ref);
        tx.editor().insert(rootTree, new Key(child, KeyType.ROOT_BACKREF, dir.root()), ref);
    }

    /** Removes what {@link #link} added (btrfs_unlink_subvol). */
    private void unlink(InodeId dir, byte[] name, long child, long index, Timespec now) throws FsException {
        Transaction tx = w.tx();
        TreeRoot root = w.root(dir.root());
        Key itemKey = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(name));
        List<DirItem> items = new ArrayList<>(Subvolumes.readDirItems(w.tree(dir.root()).find(itemKey)));
        items.removeIf(d -> Arrays.equals(d.name(), name) && d.location().objectid() == child);
        if (items.isEmpty()) tx.editor().delete(root, itemKey);
        else tx.editor().put(root, itemKey, DirItem.encodeAll(items));
        if (!tx.editor().delete(root, new Key(dir.objectid(), KeyType.DIR_INDEX, index))) {
            throw new FsException(Errno.EIO, "subvolume " + child + ": dir index " + index + " of " + dir
                    + " is missing");
        }
        InodeItem p = w.load(dir);
        w.save(dir, p.withSize(p.size() - 2L * name.length).withTimes(p.atime(), now, now));
        TreeRoot rootTree = w.root(ObjectIds.ROOT_TREE);
        tx.editor().delete(rootTree, new Key(dir.root(), KeyType.ROOT_REF, child));
        tx.editor().delete(rootTree, new Key(child, KeyType.ROOT_BACKREF, dir.root()));
    }

    // ---- root items ----

    /** The root item of a new subvolume (create_subvol): one leaf, one reference, made and changed now. */
    private byte[] newRootItem(long bytenr, long transid, byte[] uuid, Timespec now) {
        ByteBuffer b = ByteBuffer.allocate(RootItem.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int nodesize = w.manager().nodesize();
        Timespec zero = new Timespec(0, 0);
        InodeItem inode = new InodeItem(1, 0, 3, nodesize, 0, 1, 0, 0, Stat.S_IFDIR | 0755, 0,
                RootItem.INODE_ROOT_ITEM_INIT, 0, zero, zero, zero, zero);
        b.put(0, inode.encode());
        b.putLong(RootItem.OFFSET_GENERATION, transid).putLong(RootItem.OFFSET_ROOT_DIRID, ObjectIds.FIRST_FREE_DIR)
                .putLong(RootItem.OFFSET_BYTENR, bytenr).putLong(RootItem.OFFSET_BYTES_USED, nodesize)
                .putInt(RootItem.OFFSET_REFS, 1).putLong(RootItem.OFFSET_GENERATION_V2, transid)
                .putLong(RootItem.OFFSET_CTRANSID, transid).putLong(RootItem.OFFSET_OTRANSID, transid);
        b.put(RootItem.OFFSET_UUID, uuid);
        now.write(b, RootItem.OFFSET_CTIME);
        now.write(b, RootItem.OFFSET_OTIME);
        return b.array();
    }

    private static void clearReceived(ByteBuffer b) {
        b.put(RootItem.OFFSET_RECEIVED_UUID, new byte[Uuids.SIZE]);
        b.putLong(RootItem.OFFSET_STRANSID, 0).putLong(RootItem.OFFSET_RTRANSID, 0);
        new Timespec(0, 0).write(b, RootItem.OFFSET_STIME);
        new Timespec(0, 0).write(b, RootItem.OFFSET_RTIME);
    }

    /** A random (version 4) uuid, as generate_random_guid makes. */
    private static byte[] randomUuid() {
        UUID u = UUID.randomUUID();
        return ByteBuffer.allocate(Uuids.SIZE).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits())
                .array();
    }

    /** One past the highest subvolume-range objectid the root tree holds, at least 256 (btrfs_get_free_objectid). */
    private long newSubvolumeId() throws FsException {
        long highest = InodeWriter.highestObjectid(w.tree(ObjectIds.ROOT_TREE));
        long id = Math.max(Math.max(ObjectIds.FIRST_FREE, highest + 1), nextId);
        nextId = id + 1;
        return id;
    }
}
