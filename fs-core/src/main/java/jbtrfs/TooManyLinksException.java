package jbtrfs;

/** An inode at the most links an inode ref can hold (EMLINK). */
public final class TooManyLinksException extends FsException {
    public TooManyLinksException(String message) { super(message); }
}
