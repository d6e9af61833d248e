package jbtrfs;

/**
 * The running transaction was aborted (≈ btrfs_abort_transaction): its changes are lost, the image stays at the last
 * commit and the filesystem is read-only. Asking for durability after that (fsync, sync, unmount) gets this (EIO);
 * a change gets {@link Errno#EROFS}, as on the kernel's aborted Btrfs.
 */
public final class TransactionAbortedException extends FsException {
    private final long transid;
    private final long committedGeneration;
    private final String reason;

    public TransactionAbortedException(long transid, long committedGeneration, String reason, Throwable cause) {
        super(Errno.EIO, "transaction " + transid + " aborted: " + reason + " (the image stays at transaction "
                + committedGeneration + ")", cause);
        this.transid = transid;
        this.committedGeneration = committedGeneration;
        this.reason = reason;
    }

    /** The transaction that was aborted. */
    public long transid() { return transid; }

    /** The generation of the last commit, which the image still holds. */
    public long committedGeneration() { return committedGeneration; }

    /** Which operation failed and why, in one line. */
    public String reason() { return reason; }

    /** The same abort, thrown again at a later caller (its own stack, the first failure as the cause). */
    public TransactionAbortedException again() {
        return new TransactionAbortedException(transid, committedGeneration, reason, getCause());
    }
}
