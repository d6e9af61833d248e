package jbtrfs;

/** An extended attribute that is not set (ENODATA). */
public final class NoDataException extends FsException {
    public NoDataException(String message) { super(message); }
}
