package jbtrfs;

/** An extended attribute that is not set (ENODATA). */
public final class NoDataException extends FsException {
    public NoDataException(String message) { super(message); }

    /**
     * An answer, not a fault, and a frequent one (the kernel's security.capability query before every
     * write): no stack trace to fill.
     */
    @Override
    public synchronized Throwable fillInStackTrace() { return this; }
}
