package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.DirItem;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Timespec;

/**
 * The names of one subvolume during log replay, the kernel's way (tree-log.c): dir indexes the log carries
 * (replay_one_name), names a logged directory range no longer holds (replay_dir_deletes, check_item_in_log), the
 * three items of a name added or removed (for {@link LogRefs} too, which replays the inode refs), and the link
 * counts recounted from the refs afterwards (fixup_inode_link_counts). Adding a name leaves the directory's times
 * alone, as the kernel does while it recovers, and so does removing one (the kernel 6.18's replay leaves a directory
 * it is not given an inode item for at its committed times); the inode whose name goes gets the replay's time as its
 * ctime. Old kernels' DIR_ITEM and DIR_LOG_ITEM keys are ignored, as the kernel 6.18 ignores them: their DIR_INDEX
 * and DIR_LOG_INDEX twins say the same.
 */
final class LogNames {
    /** One name of an inode: its parent directory, dir index and bytes. */
    record Name(long parent, long index, byte[] name) {
    }

    private final InodeWriter w;
    private final long root;
    private final BTree log;
    private final Set<Long> fixups;
    private final boolean extendedRefs;
    private int added;
    private int removed;

    LogNames(InodeWriter w, long root, BTree log, Set<Long> fixups, boolean extendedRefs) {
        this.w = w;
        this.extendedRefs = extendedRefs;
        this.root = root;
        this.log = log;
        this.fixups = fixups;
    }

    int added() { return added; }

    /** Recounts {@code ino}'s links at the end (link_to_fixup_dir). */
    void linkToFixup(long ino) { fixups.add(ino); }

    int removed() { return removed; }

    // ---- dir indexes (LOG_WALK_REPLAY_DIR_INDEX) ----

    /**
     * A DIR_INDEX of the log: the name is made to exist unless the log's inode refs will add it. A name or index in
     * the way goes only when it is the same name (the kernel looks the index up by name) and the logged inode exists.
     */
    void replayDirIndex(Key key, byte[] data) throws FsException {
        long dir = key.objectid();
        long index = key.offset();
        if (!exists(dir)) return;
        DirItem logged = DirItem.readAll(le(data), 0, data.length).get(0);
        if (logged.location().type() != KeyType.INODE_ITEM) return;
        long ino = logged.location().objectid();
        boolean inodeExists = exists(ino);
        boolean nameMatches = false;
        DirItem byName = entry(dir, logged.name());
        if (byName != null) {
            if (sameEntry(byName, logged)) nameMatches = true;
            else if (inodeExists) unlink(dir, byName.name(), byName.location().objectid());
        }
        boolean indexMatches = false;
        DirItem byIndex = indexEntry(dir, index, logged.name());
        if (byIndex != null) {
            if (sameEntry(byIndex, logged)) indexMatches = true;
            else if (inodeExists) unlink(dir, byIndex.name(), byIndex.location().objectid());
        }
        if (nameMatches || indexMatches) return;
        if (inLogRefs(ino, dir, logged.name())) return;
        if (!inodeExists) return;
        requireFreeIndex(dir, index, logged.name());
        addLink(dir, ino, logged.name(), index, true);
        if (logged.type() != DirItem.FT_DIR) fixups.add(ino);
    }

    /** Whether a subvolume entry names what the log's does: the same inode and type (delete_conflicting_dir_entry). */
    private static boolean sameEntry(DirItem existing, DirItem logged) {
        return existing.location().equals(logged.location()) && existing.type() == logged.type();
    }

    /**
     * A dir index of another name at the logged index stays, as the kernel leaves it: the kernel's replay then fails
     * inserting the index (EEXIST, the mount refused), and so does ours, before anything is written.
     */
    void requireFreeIndex(long dir, long index, byte[] name) throws FsException {
        DirItem other = indexEntry(dir, index);
        if (other == null) return;
        throw new FsException(Errno.EEXIST, "the log names " + printable(name) + " at dir index " + index
                + " of directory " + dir + " of subvolume " + root + ", where " + printable(other.name()) + " is");
    }

    private static String printable(byte[] name) {
        return "'" + new String(name, StandardCharsets.UTF_8) + "'";
    }

    /** The names the log gives {@code ino} under {@code parent}, from its ref and extref items. */
    private List<Name> loggedNames(long ino, long parent) throws FsException {
        List<Name> out = new ArrayList<>();
        Cursor c = log.seek(Key.first(ino, KeyType.INODE_REF));
        while (c.valid() && c.key().objectid() == ino && c.key().type() <= KeyType.INODE_EXTREF) {
            if (c.key().type() == KeyType.INODE_EXTREF || c.key().offset() == parent) {
                for (Name n : decodeRefs(c.key(), bytes(c))) if (n.parent() == parent) out.add(n);
            }
            c.next();
        }
        return out;
    }

    static List<Name> decodeRefs(Key key, byte[] data) {
        List<Name> out = new ArrayList<>();
        if (key.type() == KeyType.INODE_REF) {
            for (InodeRef r : InodeRef.readAll(le(data), 0, data.length)) {
                out.add(new Name(key.offset(), r.index(), r.name()));
            }
        } else {
            for (InodeExtref r : InodeExtref.readAll(le(data), 0, data.length)) {
                out.add(new Name(r.parentObjectid(), r.index(), r.name()));
            }
        }
        return out;
    }

    /** Whether the log's refs of {@code ino} name it {@code name} in {@code dir} (then add_inode_ref adds it). */
    private boolean inLogRefs(long ino, long dir, byte[] name) throws FsException {
        return loggedNames(ino, dir).stream().anyMatch(n -> Arrays.equals(n.name(), name));
    }

    // ---- dir ranges (replay_dir_deletes) ----

    /**
     * Removes the names of {@code dir} in the DIR_LOG_INDEX ranges of the log that the log does not hold (all of
     * them with {@code all}: a directory left without a name).
     */
    void replayDirDeletes(long dir, boolean all) throws FsException {
        if (!exists(dir)) return;
        long start = 0;
        while (true) {
            long end;
            if (all) {
                end = -1L;
            } else {
                long[] range = range(dir, start);
                if (range == null) return;
                start = range[0];
                end = range[1];
            }
            List<DirItem> gone = new ArrayList<>();
            Cursor c = tree().seek(new Key(dir, KeyType.DIR_INDEX, start));
            while (c.valid() && c.key().objectid() == dir && c.key().type() == KeyType.DIR_INDEX
                    && Long.compareUnsigned(c.key().offset(), end) <= 0) {
                DirItem d = Subvolumes.readDirItems(c).get(0);
                if (d.location().type() == KeyType.INODE_ITEM && (all || !indexInLog(dir, c.key().offset(), d))) {
                    gone.add(d);
                }
                c.next();
            }
            for (DirItem d : gone) unlink(dir, d.name(), d.location().objectid());
            if (end == -1L) return;
            start = end + 1;
        }
    }

    /** The log's DIR_LOG_INDEX range of {@code dir} that holds or follows index {@code from}: {first, last}. */
    private long[] range(long dir, long from) throws FsException {
        Cursor c = log.seekFloor(new Key(dir, KeyType.DIR_LOG_INDEX, from));
        if (c.valid() && c.key().objectid() == dir && c.key().type() == KeyType.DIR_LOG_INDEX) {
            long last = rangeEnd(c);
            if (Long.compareUnsigned(last, from) >= 0) return new long[] {from, last};
        }
        c = log.seek(new Key(dir, KeyType.DIR_LOG_INDEX, from));
        if (c.valid() && c.key().objectid() == dir && c.key().type() == KeyType.DIR_LOG_INDEX) {
            return new long[] {c.key().offset(), rangeEnd(c)};
        }
        return null;
    }

    /** A btrfs_dir_log_item: the u64 last index of the range its key starts. */
    private static long rangeEnd(Cursor c) throws CorruptBlockException {
        return c.decode(8, (b, off) -> b.getLong(off));
    }

    private boolean indexInLog(long dir, long index, DirItem d) throws FsException {
        Cursor c = log.find(new Key(dir, KeyType.DIR_INDEX, index));
        if (c == null) return false;
        DirItem l = Subvolumes.readDirItems(c).get(0);
        return Arrays.equals(l.name(), d.name()) && l.location().equals(d.location());
    }

    // ---- link counts (fixup_inode_link_counts) ----

    /** Sets each touched inode's nlink to its names; one left with none gets an orphan item (freed at mount). */
    void fixupLinkCounts() throws FsException {
        // removing a directory's names adds their inodes: taken until none is left, as the kernel's fixup dir
        while (!fixups.isEmpty()) {
            long ino = fixups.iterator().next();
            fixups.remove(ino);
            if (!exists(ino)) continue;
            long nlink = 0;
            Cursor c = tree().seek(Key.first(ino, KeyType.INODE_REF));
            while (c.valid() && c.key().objectid() == ino && c.key().type() <= KeyType.INODE_EXTREF) {
                nlink += decodeRefs(c.key(), bytes(c)).size();
                c.next();
            }
            InodeId id = new InodeId(root, ino);
            InodeItem item = w.load(id);
            if (item.nlink() != nlink) w.save(id, item.withNlink(nlink));
            if (nlink == 0) {
                if ((item.mode() & Stat.S_IFMT) == Stat.S_IFDIR) replayDirDeletes(ino, true);
                w.tx().editor().put(root(), new Key(ObjectIds.ORPHAN, KeyType.ORPHAN_ITEM, ino), new byte[0]);
            }
        }
    }

    // ---- the three items of a name ----

    /** Adds a name's dir item and dir index (and inode ref with {@code withRef}); the directory grows. */
    void addLink(long dir, long ino, byte[] name, long index, boolean withRef) throws FsException {
        TreeRoot r = root();
        InodeItem target = w.load(new InodeId(root, ino));
        DirItem d = new DirItem(new Key(ino, KeyType.INODE_ITEM, 0), w.transid(), DirItem.typeOfMode(target.mode()),
                name, new byte[0]);
        Key itemKey = new Key(dir, KeyType.DIR_ITEM, NameHash.of(name));
        Cursor ic = tree().find(itemKey);
        List<DirItem> items = ic == null ? new ArrayList<>() : new ArrayList<>(Subvolumes.readDirItems(ic));
        items.add(d);
        w.tx().editor().put(r, itemKey, DirItem.encodeAll(items));
        w.tx().editor().put(r, new Key(dir, KeyType.DIR_INDEX, index), d.encode());
        if (withRef) addRef(dir, ino, name, index);
        InodeId dirId = new InodeId(root, dir);
        InodeItem p = w.load(dirId);
        w.save(dirId, p.withSize(p.size() + 2L * name.length));
        added++;
    }

    /**
     * The inode ref of a name replay adds (btrfs_insert_inode_ref): appended to the inode's ref item for {@code dir},
     * or, when that item would outgrow a leaf, to an extref keyed by the name's hash (only with the extended-iref
     * feature; without it the kernel's replay fails with EMLINK, and so does ours).
     */
    private void addRef(long dir, long ino, byte[] name, long index) throws FsException {
        TreeRoot r = root();
        int max = w.tx().editor().maxItemData();
        Key refKey = new Key(ino, KeyType.INODE_REF, dir);
        Cursor rc = tree().find(refKey);
        List<InodeRef> refs = rc == null ? new ArrayList<>() : new ArrayList<>(rc.decode(InodeRef::readAll));
        refs.add(new InodeRef(index, name));
        byte[] refData = InodeRef.encodeAll(refs);
        if (refData.length <= max) {
            w.tx().editor().put(r, refKey, refData);
            return;
        }
        Key extKey = new Key(ino, KeyType.INODE_EXTREF, NameHash.extref(dir, name));
        Cursor ec = extendedRefs ? tree().find(extKey) : null;
        List<InodeExtref> ext = ec == null ? new ArrayList<>() : new ArrayList<>(ec.decode(InodeExtref::readAll));
        ext.add(new InodeExtref(dir, index, name));
        byte[] extData = InodeExtref.encodeAll(ext);
        if (!extendedRefs || extData.length > max) {
            throw new FsException(Errno.EMLINK, "no room for name " + printable(name) + " of inode " + ino
                    + " in directory " + dir + " of subvolume " + root);
        }
        w.tx().editor().put(r, extKey, extData);
    }

    /**
     * Removes name {@code name} of {@code ino} from {@code dir}: its dir item, its dir index and the inode's ref of
     * it; the directory shrinks (its times stay), the inode takes the time as its ctime (≈ unlink_inode_for_log_replay).
     * Its link count is recounted afterwards.
     */
    void unlink(long dir, byte[] name, long ino) throws FsException {
        TreeRoot r = root();
        Key itemKey = new Key(dir, KeyType.DIR_ITEM, NameHash.of(name));
        Cursor ic = tree().find(itemKey);
        if (ic != null) {
            List<DirItem> items = new ArrayList<>(Subvolumes.readDirItems(ic));
            items.removeIf(d -> Arrays.equals(d.name(), name) && d.location().objectid() == ino);
            if (items.isEmpty()) w.tx().editor().delete(r, itemKey);
            else w.tx().editor().put(r, itemKey, DirItem.encodeAll(items));
        }
        Key indexKey = indexOf(dir, name, ino);
        if (indexKey != null) w.tx().editor().delete(r, indexKey);
        dropRef(dir, name, ino);
        Timespec now = w.time();
        InodeId dirId = new InodeId(root, dir);
        InodeItem p = w.load(dirId);
        w.save(dirId, p.withSize(p.size() - 2L * name.length));
        InodeId id = new InodeId(root, ino);
        if (exists(ino)) {
            InodeItem t = w.load(id);
            w.save(id, t.withTimes(t.atime(), now, t.mtime()));
        }
        fixups.add(ino);
        removed++;
    }

    /** The DIR_INDEX key of {@code dir} naming {@code ino} {@code name}: where its ref says, else searched for. */
    private Key indexOf(long dir, byte[] name, long ino) throws FsException {
        for (Name n : names(ino, dir)) {
            if (!Arrays.equals(n.name(), name)) continue;
            DirItem d = indexEntry(dir, n.index());
            if (d != null && d.location().objectid() == ino && Arrays.equals(d.name(), name)) {
                return new Key(dir, KeyType.DIR_INDEX, n.index());
            }
        }
        // a name the log's dir index gave without a ref: look through the directory
        Cursor c = tree().seek(Key.first(dir, KeyType.DIR_INDEX));
        while (c.valid() && c.key().objectid() == dir && c.key().type() == KeyType.DIR_INDEX) {
            DirItem d = Subvolumes.readDirItems(c).get(0);
            if (Arrays.equals(d.name(), name) && d.location().objectid() == ino) return c.key();
            c.next();
        }
        return null;
    }

    /** Removes {@code name} under {@code dir} from {@code ino}'s inode ref or extref, if it is there. */
    private void dropRef(long dir, byte[] name, long ino) throws FsException {
        TreeRoot r = root();
        Key refKey = new Key(ino, KeyType.INODE_REF, dir);
        Cursor rc = tree().find(refKey);
        if (rc != null) {
            List<InodeRef> refs = new ArrayList<>(rc.decode(InodeRef::readAll));
            if (refs.removeIf(x -> Arrays.equals(x.name(), name))) {
                if (refs.isEmpty()) w.tx().editor().delete(r, refKey);
                else w.tx().editor().put(r, refKey, InodeRef.encodeAll(refs));
                return;
            }
        }
        Key extKey = new Key(ino, KeyType.INODE_EXTREF, NameHash.extref(dir, name));
        Cursor ec = tree().find(extKey);
        if (ec == null) return;
        List<InodeExtref> ext = new ArrayList<>(ec.decode(InodeExtref::readAll));
        if (ext.removeIf(x -> x.parentObjectid() == dir && Arrays.equals(x.name(), name))) {
            if (ext.isEmpty()) w.tx().editor().delete(r, extKey);
            else w.tx().editor().put(r, extKey, InodeExtref.encodeAll(ext));
        }
    }

    // ---- lookups in the subvolume ----

    /** The names of {@code ino} under {@code parent} in the subvolume, from its ref and extrefs. */
    private List<Name> names(long ino, long parent) throws FsException {
        List<Name> out = new ArrayList<>();
        Cursor c = tree().seek(Key.first(ino, KeyType.INODE_REF));
        while (c.valid() && c.key().objectid() == ino && c.key().type() <= KeyType.INODE_EXTREF) {
            if (c.key().type() == KeyType.INODE_EXTREF || c.key().offset() == parent) {
                for (Name n : decodeRefs(c.key(), bytes(c))) if (n.parent() == parent) out.add(n);
            }
            c.next();
        }
        return out;
    }

    /** Whether {@code dir} names {@code ino} {@code name} at dir index {@code index} and in its dir item. */
    boolean inDir(long dir, long ino, long index, byte[] name) throws FsException {
        DirItem byIndex = indexEntry(dir, index);
        if (byIndex == null || byIndex.location().objectid() != ino || !Arrays.equals(byIndex.name(), name)) {
            return false;
        }
        DirItem byName = entry(dir, name);
        return byName != null && byName.location().objectid() == ino;
    }

    DirItem entry(long dir, byte[] name) throws FsException {
        Cursor c = tree().find(new Key(dir, KeyType.DIR_ITEM, NameHash.of(name)));
        if (c == null) return null;
        for (DirItem d : Subvolumes.readDirItems(c)) if (Arrays.equals(d.name(), name)) return d;
        return null;
    }

    DirItem indexEntry(long dir, long index) throws FsException {
        Cursor c = tree().find(new Key(dir, KeyType.DIR_INDEX, index));
        return c == null ? null : Subvolumes.readDirItems(c).get(0);
    }

    /** The dir index {@code index} of {@code dir} if it names {@code name} (btrfs_lookup_dir_index_item). */
    DirItem indexEntry(long dir, long index, byte[] name) throws FsException {
        DirItem d = indexEntry(dir, index);
        return d != null && Arrays.equals(d.name(), name) ? d : null;
    }

    /** Copies an item of the log into the subvolume (overwrite_item). */
    void copy(Key key, byte[] data) throws FsException {
        w.tx().editor().put(root(), key, data);
    }

    boolean exists(long ino) throws FsException {
        return tree().find(new Key(ino, KeyType.INODE_ITEM, 0)) != null;
    }

    BTree tree() throws FsException { return w.tree(root); }

    private TreeRoot root() throws FsException { return w.root(root); }

    static byte[] bytes(Cursor c) {
        byte[] d = new byte[c.dataSize()];
        c.buffer().get(c.dataOffset(), d);
        return d;
    }

    static ByteBuffer le(byte[] data) {
        return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }
}
