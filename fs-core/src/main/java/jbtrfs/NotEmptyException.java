package jbtrfs;

/** A directory that still has entries where an empty one is needed (ENOTEMPTY). */
public final class NotEmptyException extends FsException {
    public NotEmptyException(String message) { super(message); }
}
