package jbtrfs;

/** No space left for the change, data or metadata (ENOSPC); nothing of the change was made. */
public final class NoSpaceException extends FsException {
    public NoSpaceException(String message) { super(message); }
}
