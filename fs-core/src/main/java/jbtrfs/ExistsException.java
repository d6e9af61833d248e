package jbtrfs;

/** A name that already exists where a new one was asked for (EEXIST). */
public final class ExistsException extends FsException {
    public ExistsException(String message) { super(message); }
}
