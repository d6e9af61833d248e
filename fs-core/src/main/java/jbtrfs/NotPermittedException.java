package jbtrfs;

/** An operation the filesystem never allows, like a hard link to a directory (EPERM). */
public final class NotPermittedException extends FsException {
    public NotPermittedException(String message) { super(message); }
}
