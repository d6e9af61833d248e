package jbtrfs.fs;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongPredicate;

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
 * cannot give, a log too big. A directory's fsync logs its names ({@link FsyncNames#ofDirectory}).
 */
final class FsyncLog {
    /** Changed items of one inode past which a full commit is cheaper than copying them. */
    static final int MAX_ITEMS = 4096;

    private final TransactionManager txm;
    private final boolean noHoles;
    /** Where each file's last log in the running transaction left off. */
    private final Map<InodeId, InodeLogScan.Logged> logged = new HashMap<>();
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
        /** more changed items than {@link #MAX_ITEMS} */
        TOO_BIG,
        /** a name removed or renamed, or a new name in a directory the last commit lacks or where it is taken */
        NAMES
    }

    FsyncLog(TransactionManager txm, boolean noHoles) {
        this.txm = txm;
        this.noHoles = noHoles;
    }

    /**
     * Puts {@code file}'s changes since the last commit into the log and seals a log sync, which the caller makes
     * durable outside the write lock; null when only a full commit can (then nothing was logged). Called under
     * the write lock.
     */
    LogSync fsync(InodeId file) throws FsException {
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
            FsyncNames dir = FsyncNames.ofDirectory(live, committed, ino, loggedIn(tx.transid(), file.root()));
            if (dir == null) return fallBack(Fallback.NAMES);
            if (dir.items > MAX_ITEMS) return fallBack(Fallback.TOO_BIG);
            logInodes(file.root(), dir);
            return txm.sealLog();
        }
        long seq = tx.changeSequence();
        InodeLogScan.Logged last = logged.get(file);
        if (last != null && last.transid() != tx.transid()) {
            logged.clear(); // a commit dropped the log those were in
            last = null;
        }
        InodeLogScan scan = InodeLogScan.of(tx, live, ino, noHoles, inode.size(), txm.sectorsize(), last);
        if (scan.unsupported) return fallBack(Fallback.UNSUPPORTED_ITEM);
        if (scan.items > MAX_ITEMS) return fallBack(Fallback.TOO_BIG);
        FsyncNames names = FsyncNames.of(live, committed, ino, scan.names, loggedIn(tx.transid(), file.root()));
        if (names == null) return fallBack(Fallback.NAMES);
        if (scan.items + names.items > MAX_ITEMS) return fallBack(Fallback.TOO_BIG);
        TreeLog log = txm.treeLog();
        logged.remove(file); // until this log is written, what the log holds of the file is unknown
        List<Key> written = new ArrayList<>();
        for (InodeLogScan.Piece p : scan.pieces) {
            if (p.refresh()) written.addAll(log.setItems(file.root(), p.from(), p.to(ino), p.items()));
        }
        logInodes(file.root(), names);
        BTree csums = tx.tree(ObjectIds.CSUM_TREE);
        if (csums == null) csums = txm.committedTree(ObjectIds.CSUM_TREE);
        for (Key k : written) {
            // an extent item the log holds unchanged has its checksums there (its space is not reused before the
            // commit); extents older than this transaction have theirs in the committed csum tree
            FileExtentItem fe = scan.extents.get(k);
            if (fe == null || fe.isPrealloc() || fe.generation() != tx.transid()) continue;
            long start = fe.compression() != 0 ? fe.diskBytenr() : fe.diskBytenr() + fe.offset();
            long end = fe.compression() != 0 ? fe.diskBytenr() + fe.diskNumBytes() : start + fe.numBytes();
            log.setCsums(file.root(), start, end, txm.csums().read(csums, start, end));
        }
        LogSync sync = txm.sealLog();
        logged.put(file, new InodeLogScan.Logged(tx.transid(), seq, scan.pieces));
        return sync;
    }

    /** Whether an inode of subvolume {@code root} is in the log of transaction {@code transid}. */
    private LongPredicate loggedIn(long transid, long root) {
        return id -> {
            InodeLogScan.Logged l = logged.get(new InodeId(root, id));
            return l != null && l.transid() == transid;
        };
    }

    /** Writes what {@code names} says the log must hold of inodes beside the fsync'd one. */
    private void logInodes(long root, FsyncNames names) throws FsException {
        TreeLog log = txm.treeLog();
        for (Map.Entry<Long, FsyncNames.Items> e : names.inodes.entrySet()) {
            log.setItems(root, new Key(e.getKey(), 0, 0), e.getValue().to(), e.getValue().items());
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
