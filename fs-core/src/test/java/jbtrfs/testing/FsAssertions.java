package jbtrfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.function.Executable;

import jbtrfs.Errno;
import jbtrfs.FsException;

/** Assertions on the errno an {@link FsException} carries. */
public final class FsAssertions {
    private FsAssertions() {
    }

    /** Asserts that {@code body} fails with {@code errno}, and returns the exception for more checks. */
    public static FsException assertErrno(Errno errno, Executable body) {
        return assertErrno(errno, body, null);
    }

    /** As {@link #assertErrno(Errno, Executable)}, with {@code message} shown when it fails. */
    public static FsException assertErrno(Errno errno, Executable body, String message) {
        FsException e = assertThrows(FsException.class, body, message);
        assertEquals(errno, e.errno(), () -> (message == null ? "" : message + ": ") + "errno of " + e);
        return e;
    }
}
