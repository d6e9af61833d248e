package jbtrfs;

/** Data whose checksum does not match on every copy (EIO). */
public final class ChecksumMismatchException extends FsException {
    public ChecksumMismatchException(String message) { super(message); }
}
