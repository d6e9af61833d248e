package jbtrfs;

/** A file operation on a directory (EISDIR). */
public final class IsDirectoryException extends FsException {
    public IsDirectoryException(String message) { super(message); }
}
