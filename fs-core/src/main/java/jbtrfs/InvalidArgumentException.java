package jbtrfs;

/** An operation that does not apply to its target, such as readlink on a regular file (EINVAL). */
public final class InvalidArgumentException extends FsException {
    public InvalidArgumentException(String message) { super(message); }
}
