package jbtrfs.fs;

import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.format.ObjectIds;
import jbtrfs.tx.CommitLocks;
import jbtrfs.tx.LogSync;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;

/**
 * How a read-write mount orders reads, changes and commits. Readers share the read lock and see the running
 * transaction; a change holds the change lock and the write lock; a commit holds the change lock throughout and
 * lets readers in during its writeout. An fsync builds its log under both and waits for the log's flushes after
 * them. A change that fails after it began editing aborts the transaction.
 */
final class WriteGate {
    private static final Logger LOG = LoggerFactory.getLogger(WriteGate.class);
    /** Commit once this much tree block data is dirty, whatever the timer says. */
    static final long DIRTY_BOUND = 64L << 20;
    /**
     * An fsync commits instead of logging once the log has taken this much metadata space: every log sync copies
     * its changed blocks anew and none is freed before the commit, so hundreds of fsyncs a second between periodic
     * commits would fill the image (as the kernel's fsync falls back to a commit when the log's space runs short).
     */
    static final long LOG_BOUND = 64L << 20;

    /** What runs under a lock; its FsException goes to the caller. */
    interface Body<T> {
        T run() throws FsException;
    }

    private final TransactionManager txm;
    private final Subvolumes subvolumes;
    private final InodeWriter inodes;
    /** Readers share it; the running transaction changes only under its write lock. */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** One change or commit at a time, held across a commit's I/O while readers go on. */
    private final ReentrantLock changeLock = new ReentrantLock();
    /** A commit's writeout under the read lock: readers go on beside it. */
    private final CommitLocks besideReaders = new CommitLocks() {
        @Override
        public void downgrade() {
            lock.readLock().lock();
            lock.writeLock().unlock();
        }

        @Override
        public void upgrade() {
            lock.readLock().unlock();
            lock.writeLock().lock();
        }
    };

    WriteGate(TransactionManager txm, Subvolumes subvolumes, InodeWriter inodes) {
        this.txm = txm;
        this.subvolumes = subvolumes;
        this.inodes = inodes;
    }

    /** What a scrub holds to keep commits out while it reads the committed trees (the readers' lock). */
    Lock commitFence() { return lock.readLock(); }

    /** What a scrub holds to keep every commit out, its writeout too (the change lock, held across a commit). */
    Lock commitExclusion() { return changeLock; }

    <T> T read(Body<T> body) throws FsException {
        lock.readLock().lock();
        try {
            return body.run();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** A change of the running transaction; it commits afterwards when the dirty tree blocks pass the bound. */
    <T> T change(String operation, Body<T> body) throws FsException {
        changeLock.lock();
        try {
            T result;
            boolean commitNow;
            lock.writeLock().lock();
            try {
                result = changeLocked(operation, body);
                Transaction t = txm.running();
                commitNow = t != null && t.dirtyBytes() > DIRTY_BOUND;
            } finally {
                lock.writeLock().unlock();
            }
            if (commitNow) commitBesideReaders();
            return result;
        } finally {
            changeLock.unlock();
        }
    }

    /**
     * A change committed before it returns; {@code commitFirst}: what is pending is committed before the change
     * begins (its own commit then holds only it).
     */
    <T> T committedChange(String operation, boolean commitFirst, Body<T> body) throws FsException {
        changeLock.lock();
        try {
            if (commitFirst) commitBesideReaders();
            T result;
            lock.writeLock().lock();
            try {
                result = changeLocked(operation, body);
            } finally {
                lock.writeLock().unlock();
            }
            commitBesideReaders();
            return result;
        } finally {
            changeLock.unlock();
        }
    }

    /**
     * fsync: {@code log} writes the inode's changes to the log tree under the locks and seals a log sync, whose I/O
     * (its flushes) runs after the locks are released, so other requests go on meanwhile; where the log cannot
     * take the changes ({@code log} gives null, having counted why, or the filesystem aborted), a full commit makes
     * them durable.
     */
    void fsync(Body<LogSync> log, Object what) throws FsException {
        LogSync sync;
        changeLock.lock();
        try {
            sync = logged(log, what);
            if (sync == null) {
                commitBesideReaders();
                return;
            }
        } finally {
            changeLock.unlock();
        }
        try {
            txm.awaitLog(sync);
        } catch (FsException e) {
            throw abortLogSync(e);
        }
    }

    /**
     * Commits, then runs {@code body} with every change and commit kept out (readers go on): the free space it sees
     * is free on disk and stays free until it returns.
     */
    <T> T afterCommit(Body<T> body) throws FsException {
        changeLock.lock();
        try {
            commitBesideReaders();
            return read(body);
        } finally {
            changeLock.unlock();
        }
    }

    /** Commits everything and returns when it is on disk. */
    void sync() throws FsException {
        changeLock.lock();
        try {
            commitBesideReaders();
        } finally {
            changeLock.unlock();
        }
    }

    private LogSync logged(Body<LogSync> log, Object what) throws FsException {
        if (txm.aborted() != null) return null;
        lock.writeLock().lock();
        try {
            return log.run();
        } catch (TransactionAbortedException e) {
            afterAbort();
            throw e;
        } catch (FsException | RuntimeException e) {
            // what the log got so far goes with the commit that follows; the commit reports any real damage
            LOG.warn("fsync of {} falls back to a commit: {}", what, e.getMessage());
            return null;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** A log sync's writes failed: the filesystem aborts, as the kernel's does. Returns the abort. */
    private TransactionAbortedException abortLogSync(FsException e) throws FsException {
        changeLock.lock();
        try {
            lock.writeLock().lock();
            try {
                TransactionAbortedException a = txm.abortLogSync(e);
                afterAbort();
                return a;
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            changeLock.unlock();
        }
    }

    /**
     * A commit that lets reads run during its I/O: it settles under the write lock, downgrades to the read lock for
     * the writeout (the change lock keeps every change out), and takes the write lock again to finish.
     */
    private void commitBesideReaders() throws FsException {
        // a log sync's flushes may be under way: wait for them before the write lock, so readers go on meanwhile
        txm.logSyncLock().lock();
        try {
            lock.writeLock().lock();
            try {
                if (txm.commit(besideReaders) != null) subvolumes.committed(txm.committedTree(ObjectIds.ROOT_TREE));
            } catch (FsException e) {
                afterAbort();
                throw e;
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            txm.logSyncLock().unlock();
        }
    }

    /** After an abort the committed trees are the ones to read (the running transaction is gone). */
    private void afterAbort() throws FsException {
        inodes.reset();
        subvolumes.committed(txm.committedTree(ObjectIds.ROOT_TREE));
    }

    /** A whole commit under the write lock (inside a change that must commit before it can go on). */
    private void commitLocked() throws FsException {
        if (txm.running() == null) return;
        try {
            txm.commit();
        } catch (FsException e) {
            afterAbort();
            throw e;
        }
        subvolumes.committed(txm.committedTree(ObjectIds.ROOT_TREE));
    }

    private <T> T changeLocked(String operation, Body<T> body) throws FsException {
        txm.refuseChangeIfAborted();
        Transaction before = txm.current();
        long editsBefore = before.edits();
        try {
            try {
                return body.run();
            } catch (FsException e) {
                if (e.errno() != Errno.ENOSPC) throw e;
                // space freed in this transaction (extents whose last reference went, pinned blocks) is usable
                // once it commits: make the commit and try once more
                if (before.edits() != editsBefore || before.isEmpty()) throw e;
                commitLocked();
                before = txm.current();
                editsBefore = before.edits();
                return body.run();
            }
        } catch (FsException | RuntimeException e) {
            Transaction now = txm.running();
            if (now != null && now.edits() != editsBefore) {
                // the caller gets its own error; the abort says the rest once (log, stats, unmount)
                txm.abort(operation + " failed halfway", e);
                afterAbort();
            }
            if (e instanceof RuntimeException re) throw new FsException(Errno.EIO, "internal error: " + re, re);
            throw e;
        }
    }
}
