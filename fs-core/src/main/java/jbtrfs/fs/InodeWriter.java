package jbtrfs.fs;

import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.Timespec;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;

/**
 * What every change needs: the running transaction, the live trees, inode items read and written back, new inode
 * numbers, the clock, and the metadata space a change reserves before it edits anything (so that it never stops
 * halfway for lack of space). Called under the filesystem's write lock only.
 */
final class InodeWriter {
    /** Tree blocks one item insert or delete may copy or add: a path at the deepest level, twice (splits). */
    private static final int BLOCKS_PER_ITEM = 16;
    /** Metadata kept back for the commit's own tree updates (≈ the global block reserve). */
    private static final int COMMIT_RESERVE_BLOCKS = 256;

    private final TransactionManager txm;
    private final Subvolumes subvolumes;
    private final Map<Long, Long> nextObjectid = new HashMap<>();
    /** The source of every time a change stamps on an inode (tests fix it). */
    private final Clock clock;
    /** What each logged file's next fsync must log again. */
    private final ExtentChanges extentChanges = new ExtentChanges();

    InodeWriter(TransactionManager txm, Subvolumes subvolumes, Clock clock) {
        this.txm = txm;
        this.subvolumes = subvolumes;
        this.clock = clock;
    }

    TransactionManager manager() { return txm; }

    ExtentChanges extentChanges() { return extentChanges; }

    /** {@code file}'s extent items over [from, to) changed: its next log copies them again. */
    void extentsChanged(InodeId file, long from, long to) throws FsException {
        extentChanges.changed(file, transid(), from, to);
    }

    /** {@code file}'s extents changed in a way its next log must take whole (a truncate, a clone, inline). */
    void extentsRewritten(InodeId file) throws FsException {
        extentChanges.needsWholeLog(file, transid());
    }

    Transaction tx() throws FsException { return txm.current(); }

    /** The live tree {@code id}, loaded into the transaction. */
    BTree tree(long id) throws FsException {
        Transaction tx = tx();
        tx.root(id);
        return tx.tree(id);
    }

    TreeRoot root(long id) throws FsException { return tx().root(id); }

    long transid() throws FsException { return tx().transid(); }

    int sectorsize() { return txm.sectorsize(); }

    /**
     * Makes sure {@code items} item changes and the commit after them fit in metadata space, adding a metadata
     * chunk now if need be; {@link Errno#ENOSPC} before anything changed otherwise.
     */
    void reserveMetadata(int items) throws FsException {
        long need = (long) (items * BLOCKS_PER_ITEM + COMMIT_RESERVE_BLOCKS) * txm.nodesize();
        var groups = txm.blockGroups();
        if (groups.freeBytes(BlockGroupFlags.METADATA) >= need) return;
        tx();
        // a chunk made now, before any edit, cannot land in the middle of one
        try {
            long at = groups.allocate(BlockGroupFlags.METADATA, need, txm.nodesize());
            groups.release(at, need);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC) throw e;
            throw new FsException(Errno.ENOSPC, "no metadata space left for the change");
        }
    }

    /** Refuses changes to a read-only subvolume (a read-only snapshot), as the kernel does (EROFS). */
    void checkWritable(long root) throws FsException {
        RootItem item = subvolumes.rootItem(root);
        if (item == null || item.refs() == 0) throw new FsException(Errno.ENOENT, "no subvolume " + root);
        if (item.readOnly()) throw new FsException(Errno.EROFS, "subvolume " + root + " is read-only");
    }

    /** Flags that forbid changing an inode (chattr +i) or anything but appending to it (chattr +a). */
    static final long IMMUTABLE_OR_APPEND = InodeFlags.IMMUTABLE | InodeFlags.APPEND;

    /** EPERM when {@code item} carries any of {@code flags}, as the VFS refuses changes to +i and +a inodes. */
    static void refuseIf(InodeItem item, long flags, InodeId id, String what) throws FsException {
        if ((item.flags() & flags) != 0) {
            throw new FsException(Errno.EPERM, what + " of " + id + ": it is "
                    + ((item.flags() & InodeFlags.IMMUTABLE & flags) != 0 ? "immutable" : "append-only"));
        }
    }

    /** The subvolume's last_snapshot: blocks and extents written up to then may be shared with a snapshot. */
    long lastSnapshot(long root) throws FsException {
        RootItem item = subvolumes.rootItem(root);
        return item == null ? Long.MAX_VALUE : item.lastSnapshot();
    }

    InodeItem load(InodeId id) throws FsException {
        Cursor c = tree(id.root()).find(new Key(id.objectid(), KeyType.INODE_ITEM, 0));
        if (c == null) throw new FsException(Errno.ENOENT, "no inode " + id);
        return c.decode(InodeItem.SIZE, InodeItem::read);
    }

    /** Writes the inode item back, stamped with this transaction (transid, sequence). */
    void save(InodeId id, InodeItem item) throws FsException {
        tx().editor().put(root(id.root()), new Key(id.objectid(), KeyType.INODE_ITEM, 0),
                item.touched(transid()).encode());
    }

    /** A new inode number in subvolume {@code root}: one past the highest in use. */
    long newObjectid(long root) throws FsException {
        Long next = nextObjectid.get(root);
        if (next == null) next = Math.max(ObjectIds.FIRST_FREE, highestObjectid(tree(root))) + 1;
        nextObjectid.put(root, next + 1);
        return next;
    }

    /** The highest objectid below the reserved ones (LAST_FREE and up) that {@code tree} holds, 0 for none. */
    static long highestObjectid(BTree tree) throws FsException {
        Cursor c = tree.seekFloor(new Key(ObjectIds.LAST_FREE, 0xff, -1L));
        while (c.valid()) {
            long o = c.key().objectid();
            if (Long.compareUnsigned(o, ObjectIds.LAST_FREE) <= 0) return o;
            c.prev();
        }
        return 0;
    }

    /** Forget cached inode numbers (after an abort, the tree is the committed one again). */
    void reset() { nextObjectid.clear(); }

    /**
     * The kernel's Btrfs stamps a new inode's four times from one clock reading. With writeback caching the kernel
     * stamps a new file's first ctime itself, from its coarse clock, which can lie before the otime fs-core took: an
     * inode whose ctime is still its otime then takes the kernel's earlier ctime as its otime too (generic/423).
     */
    static InodeItem bornAt(InodeItem i, Timespec ctime) {
        if (ctime == null || !i.ctime().equals(i.otime())) return i;
        boolean earlier = ctime.sec() < i.otime().sec()
                || (ctime.sec() == i.otime().sec() && ctime.nsec() < i.otime().nsec());
        return earlier ? i.withOtime(ctime) : i;
    }

    /** The clock's time now, as an inode stores it. */
    Timespec time() {
        return timespec(clock.instant());
    }

    private static Timespec timespec(Instant i) {
        return new Timespec(i.getEpochSecond(), i.getNano());
    }
}
