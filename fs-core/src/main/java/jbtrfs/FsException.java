package jbtrfs;

import java.io.IOException;
import java.util.Objects;

/**
 * Every filesystem error, with the errno it answers: {@code new FsException(Errno.ENOENT, "no such name")}.
 * Subclasses exist only where the error carries more (where a corrupt block lies, which transaction aborted).
 */
public class FsException extends IOException {
    private final Errno errno;

    public FsException(Errno errno, String message) {
        this(errno, message, null);
    }

    public FsException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = Objects.requireNonNull(errno, "errno");
        // Throwable's constructor asked for the stack before errno was set (see fillInStackTrace): take it now
        if (!frequent(errno)) super.fillInStackTrace();
    }

    /** The errno a caller of the filesystem gets for this error. */
    public Errno errno() { return errno; }

    /** Whether this is an ordinary answer (a missing name, a full disk) rather than damage or a bug. */
    public boolean ordinary() { return errno.ordinary(); }

    /**
     * ENOENT (every create's lookup of the new name) and ENODATA (the kernel's security.capability query before
     * every write) are answers, not faults, and frequent ones: no stack trace to fill. The others fill theirs in
     * the constructor, once errno is known.
     */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return errno == null || frequent(errno) ? this : super.fillInStackTrace();
    }

    private static boolean frequent(Errno errno) {
        return errno == Errno.ENOENT || errno == Errno.ENODATA;
    }
}
