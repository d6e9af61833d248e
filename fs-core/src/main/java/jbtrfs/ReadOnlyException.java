package jbtrfs;

/** A change asked of a filesystem mounted read-only (EROFS). */
public final class ReadOnlyException extends FsException {
    public ReadOnlyException(String message) { super(message); }
}
