package jbtrfs.tx;

import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;

/**
 * Whether and why the filesystem aborted (≈ BTRFS_FS_STATE_TRANS_ABORTED with fs_info->fs_error): set once, by the
 * first failure, and read without a lock by FUSE threads and meters.
 */
final class AbortState {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionManager.class);

    private volatile TransactionAbortedException aborted;
    private volatile Consumer<TransactionAbortedException> listener = a -> { };

    /** The abort, or null. */
    TransactionAbortedException get() { return aborted; }

    void setListener(Consumer<TransactionAbortedException> listener) { this.listener = listener; }

    /** A change after an abort is refused as on a read-only mount (EROFS). */
    void refuseChange() throws FsException {
        TransactionAbortedException a = aborted;
        if (a != null) {
            throw new FsException(Errno.EROFS, "read-only since transaction " + a.transid() + " was aborted: " + a.reason());
        }
    }

    /** Durability asked after an abort (fsync, sync, unmount) cannot be given: the abort again (EIO). */
    void refuseCommit() throws TransactionAbortedException {
        TransactionAbortedException a = aborted;
        if (a != null) throw a.again();
    }

    /**
     * Records the abort of {@code transid} because of {@code e} ({@code what} says what failed) and says so in one
     * ERROR line; the stack trace goes with it only for an internal error (a bug of ours), else to debug. A failure
     * after the first abort keeps the first one's reason.
     */
    synchronized TransactionAbortedException abort(long transid, long committedGeneration, String what, Exception e) {
        TransactionAbortedException first = aborted;
        if (first != null) {
            LOG.debug("{} after the abort of transaction {}", what, first.transid(), e);
            return first.again();
        }
        TransactionAbortedException a = new TransactionAbortedException(transid, committedGeneration,
                what + ": " + describe(e), e);
        aborted = a;
        String line = "transaction " + transid + " aborted: " + a.reason() + "; the image stays at transaction "
                + committedGeneration + ", read-only from now on";
        if (e instanceof RuntimeException) {
            LOG.error(line, e);
        } else {
            LOG.error(line);
            LOG.debug("abort of transaction {}", transid, e);
        }
        listener.accept(a);
        return a;
    }

    /** The failure in words: our own errors say what is wrong; an unchecked exception is a bug of ours. */
    private static String describe(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName()
                : e.getMessage().lines().findFirst().orElse("");
        return e instanceof RuntimeException ? "internal error: " + m : m;
    }
}
