package jbtrfs;

/** A path component or directory operation on something that is not a directory (ENOTDIR). */
public final class NotDirectoryException extends FsException {
    public NotDirectoryException(String message) { super(message); }
}
