package jbtrfs;

/** A name, inode or item that does not exist (ENOENT). */
public final class NotFoundException extends FsException {
    public NotFoundException(String message) { super(message); }

    /**
     * An answer, not a fault, and a frequent one (every create's lookup of the new name): no stack trace to
     * fill.
     */
    @Override
    public synchronized Throwable fillInStackTrace() { return this; }
}
