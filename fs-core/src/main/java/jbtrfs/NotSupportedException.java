package jbtrfs;

/** An operation or mode this filesystem does not support (EOPNOTSUPP). */
public final class NotSupportedException extends FsException {
    public NotSupportedException(String message) { super(message); }
}
