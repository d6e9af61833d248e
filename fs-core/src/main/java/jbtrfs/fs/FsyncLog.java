package jbtrfs.fs;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.tx.LogSync;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;
import jbtrfs.tx.TreeLog;

/**
 * An fsync of a regular file as the kernel's btrfs_log_inode makes it: the file's items that changed in this
 * transaction ({@link InodeLogScan}) go into the subvolume's log tree with the checksums of the extents this
 * transaction wrote, then one log sync. Names that changed go in as {@link FsyncNames} says (new names through
 * the file's refs, removed ones through their directories). Anything else is the caller's full commit, counted
 * by why ({@link #fallbacks}): a subvolume made in this transaction, a symlink or special file, names the log
 * cannot give, a log too big or full, a log block in a chunk this transaction made. A directory's fsync logs its names
 * ({@link FsyncNames#ofDirectory}).
 */
final class FsyncLog {

    private final TransactionManager txm;
    private final boolean noHoles;
    /** Where each file's last log in the running transaction left off. */
    private final Map<InodeId, InodeLogScan.Logged> logged = new HashMap<>();
    /** The ranges each logged file's writes changed since its last log (the writers report them). */
    private final ExtentChanges changes;
    /** Fsyncs that fell back to a full commit, by why (tests and meters read them). */
    private final Map<Fallback, Long> fallbacks = new EnumMap<>(Fallback.class);

    /** Why an fsync could not be logged. */
    enum Fallback {
        /** a subvolume made in this transaction */
        NEW_SUBVOLUME,
        /** a symlink or a special file */
        NOT_A_FILE,
        /** an item we do not log, or a damaged one */
        UNSUPPORTED_ITEM,
        /** items that would take the log past {@link WriteGate#LOG_BOUND}, where the next fsync commits anyway */
        TOO_BIG,
        /** the log already holds {@link WriteGate#LOG_BOUND} of metadata space, none of it freed before a commit */
        LOG_FULL,
        /** a name removed or renamed, or a new name in a directory the last commit lacks or where it is taken */
        NAMES,
        /**
         * a log block would lie in a chunk made in this transaction, which the committed chunk tree a log sync's
         * superblock names does not map
         */
        NEW_CHUNK
    }

    FsyncLog(TransactionManager txm, boolean noHoles, ExtentChanges changes) {
        this.txm = txm;
        this.noHoles = noHoles;
        this.changes = changes;
    }

    /**
     * Puts {@code file}'s changes since the last commit into the log and seals a log sync, which the caller makes
     * durable outside the write lock; null when only a full commit can (then nothing was logged). Called under
     * the write lock.
     */
    LogSync fsync(InodeId file) throws FsException {
        if (txm.logBytes() > WriteGate.LOG_BOUND) return fallBack(Fallback.LOG_FULL);
        try {
            return log(file);
        } catch (FsException e) {
            if (e.errno() != Errno.EAGAIN) throw e;
            logged.remove(file);
            return fallBack(Fallback.NEW_CHUNK); // the commit that follows frees what the log took
        }
    }

    private LogSync log(InodeId file) throws FsException {
        Transaction tx = txm.running();
        if (tx == null || tx.isEmpty()) return LogSync.DURABLE; // nothing changed since the last commit
        BTree live = tx.tree(file.root());
        if (live == null) return LogSync.DURABLE; // nothing in this subvolume changed
        BTree committed;
        try {
            committed = txm.committedTree(file.root());
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) return fallBack(Fallback.NEW_SUBVOLUME);
            throw e;
        }
        long ino = file.objectid();
        Key inodeKey = new Key(ino, KeyType.INODE_ITEM, 0);
        Cursor c = live.find(inodeKey);
        if (c == null) return fallBack(Fallback.NOT_A_FILE);
        InodeItem inode = c.decode((b, off, size) -> InodeItem.read(b, off));
        int type = inode.mode() & Stat.S_IFMT;
        if (type != Stat.S_IFREG && type != Stat.S_IFDIR) return fallBack(Fallback.NOT_A_FILE);
        Cursor old = committed.find(inodeKey);
        if (old != null && old.dataSize() == c.dataSize()
                && old.buffer().slice(old.dataOffset(), old.dataSize())
                .equals(c.buffer().slice(c.dataOffset(), c.dataSize()))) {
            return LogSync.DURABLE; // the inode did not change since the last commit
        }
        if (type == Stat.S_IFDIR) {
            FsyncNames.InLog inLog = loggedIn(tx.transid(), file.root(), live);
            FsyncNames dir = FsyncNames.ofDirectory(live, committed, tx.transid(), ino, inLog);
            if (dir == null) return fallBack(Fallback.NAMES);
            if (!fits(dir.bytes)) return fallBack(Fallback.TOO_BIG);
            Map<InodeId, InodeLogScan.Logged> renamed = new HashMap<>();
            for (long id : dir.renamed) {
                InodeId child = new InodeId(file.root(), id);
                renamed.put(child, logged.remove(child)); // unknown until this log is written
            }
            logInodes(file.root(), dir);
            LogSync sync = txm.sealLog();
            for (Map.Entry<InodeId, InodeLogScan.Logged> e : renamed.entrySet()) {
                InodeLogScan.Logged l = e.getValue();
                logged.put(e.getKey(), new InodeLogScan.Logged(l.transid(), l.changeSeq(), l.pieces(),
                        FsyncNames.names(live, e.getKey().objectid())));
            }
            return sync;
        }
        long seq = tx.changeSequence();
        InodeLogScan.Logged last = logged.get(file);
        if (last != null && last.transid() != tx.transid()) {
            logged.clear(); // a commit dropped the log those were in
            last = null;
        }
        // what changed since the file's last log in this transaction; its changes are followed again once logged
        ExtentChanges.Since since = changes.take(file, tx.transid());
        if (last != null && since != null && !since.whole()) {
            LogChangedExtents changed = LogChangedExtents.of(live, ino, since, inode.size(), noHoles,
                    txm.sectorsize(), tx.transid());
            if (changed.unsupported) return fallBack(Fallback.UNSUPPORTED_ITEM);
            if (!changed.whole) return logChanged(file, tx, live, committed, changed, seq, inode.size());
        }
        // a log of changed ranges leaves no leaf pieces behind: a whole log then rewrites all the file's keys
        if (last != null && last.pieces() == null) last = null;
        InodeLogScan scan = InodeLogScan.of(tx, live, ino, noHoles, inode.size(), txm.sectorsize(), last);
        if (scan.unsupported) return fallBack(Fallback.UNSUPPORTED_ITEM);
        if (!fits(scan.bytes)) return fallBack(Fallback.TOO_BIG);
        FsyncNames.InLog inLog = loggedIn(tx.transid(), file.root(), live);
        FsyncNames names = FsyncNames.of(live, committed, tx.transid(), ino, scan.names, inLog);
        if (names == null) return fallBack(Fallback.NAMES);
        if (!fits(scan.bytes + names.bytes)) return fallBack(Fallback.TOO_BIG);
        TreeLog log = txm.treeLog();
        logged.remove(file); // until this log is written, what the log holds of the file is unknown
        List<Key> written = new ArrayList<>();
        for (InodeLogScan.Piece p : scan.pieces) {
            if (p.refresh()) written.addAll(log.setItems(file.root(), p.from(), p.to(ino), p.items()));
        }
        logInodes(file.root(), names);
        logCsums(tx, file.root(), written, scan.extents);
        LogSync sync = txm.sealLog();
        logged.put(file, new InodeLogScan.Logged(tx.transid(), seq, scan.pieces, FsyncNames.names(scan.names)));
        changes.logged(file, tx.transid(), inode.size());
        return sync;
    }

    /** The log of a file logged before in this transaction: its inode's head items and its changed ranges. */
    private LogSync logChanged(InodeId file, Transaction tx, BTree live, BTree committed, LogChangedExtents changed,
                               long seq, long size) throws FsException {
        if (!fits(changed.bytes)) return fallBack(Fallback.TOO_BIG);
        long ino = file.objectid();
        FsyncNames names = FsyncNames.of(live, committed, tx.transid(), ino, changed.names, loggedIn(tx.transid(), file.root(),
                live));
        if (names == null) return fallBack(Fallback.NAMES);
        if (!fits(changed.bytes + names.bytes)) return fallBack(Fallback.TOO_BIG);
        TreeLog log = txm.treeLog();
        logged.remove(file); // until this log is written, what the log holds of the file is unknown
        List<Key> written = new ArrayList<>(log.setItems(file.root(), new Key(ino, 0, 0),
                InodeLogScan.before(new Key(ino, KeyType.EXTENT_DATA, 0)), changed.head));
        for (LogChangedExtents.Span span : changed.spans) {
            LogChangedExtents.LogEdit edit = changed.cutLog(log, file.root(), span);
            if (edit == null) return fallBack(Fallback.UNSUPPORTED_ITEM); // the commit drops this log
            written.addAll(log.setItems(file.root(), edit.from(), edit.to(), edit.items()));
        }
        logInodes(file.root(), names);
        logCsums(tx, file.root(), written, changed.extents);
        LogSync sync = txm.sealLog();
        logged.put(file, new InodeLogScan.Logged(tx.transid(), seq, null, FsyncNames.names(changed.names)));
        changes.logged(file, tx.transid(), size);
        return sync;
    }

    /**
     * The checksums of the extents this transaction wrote among the items {@code written}. An extent item the log
     * holds unchanged has its checksums there (its space is not reused before the commit); extents older than this
     * transaction have theirs in the committed csum tree.
     */
    private void logCsums(Transaction tx, long root, List<Key> written, Map<Key, FileExtentItem> extents)
            throws FsException {
        TreeLog log = txm.treeLog();
        BTree csums = tx.tree(ObjectIds.CSUM_TREE);
        if (csums == null) csums = txm.committedTree(ObjectIds.CSUM_TREE);
        for (Key k : written) {
            FileExtentItem fe = extents.get(k);
            if (fe == null || fe.isPrealloc() || fe.generation() != tx.transid()) continue;
            long start = fe.compression() != 0 ? fe.diskBytenr() : fe.diskBytenr() + fe.offset();
            long end = fe.compression() != 0 ? fe.diskBytenr() + fe.diskNumBytes() : start + fe.numBytes();
            log.setCsums(root, start, end, txm.csums().read(csums, start, end));
        }
    }

    /**
     * Whether items of {@code bytes} fit in the log: the kernel logs any number of items (copy_items in batches)
     * and commits only when the log's space runs out; ours is bounded by {@link WriteGate#LOG_BOUND}. Leaves may
     * be half full after splits, and a log sync copies what it changes: twice the items' bytes is the estimate.
     */
    private boolean fits(long bytes) {
        return 2 * bytes <= WriteGate.LOG_BOUND - txm.logBytes();
    }

    /** What the log of transaction {@code transid} holds of the inodes of subvolume {@code root} in {@code live}. */
    private FsyncNames.InLog loggedIn(long transid, long root, BTree live) {
        return new FsyncNames.InLog() {
            @Override
            public boolean withNames(long id) throws FsException {
                InodeLogScan.Logged l = get(id);
                return l != null && l.names().equals(FsyncNames.names(live, id));
            }

            @Override
            public boolean any(long id) {
                return get(id) != null;
            }

            private InodeLogScan.Logged get(long id) {
                InodeLogScan.Logged l = logged.get(new InodeId(root, id));
                return l != null && l.transid() == transid ? l : null;
            }
        };
    }

    /** Writes what {@code names} says the log must hold of inodes beside the fsync'd one. */
    private void logInodes(long root, FsyncNames names) throws FsException {
        TreeLog log = txm.treeLog();
        for (Map.Entry<Long, FsyncNames.Items> e : names.inodes.entrySet()) {
            log.setItems(root, e.getValue().from(), e.getValue().to(), e.getValue().items());
        }
    }

    private LogSync fallBack(Fallback why) {
        synchronized (fallbacks) {
            fallbacks.merge(why, 1L, Long::sum);
        }
        return null;
    }

    /** The fsyncs that fell back to a full commit since open, by why. */
    Map<Fallback, Long> fallbacks() {
        synchronized (fallbacks) {
            return Map.copyOf(fallbacks);
        }
    }
}
