package jbtrfs.fuse;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;

import jbtrfs.Errno;
import jbtrfs.FsException;

/**
 * The one place a transport turns an exception into an errno: an {@link FsException} answers its own
 * {@link FsException#errno()}, anything else (an I/O error below fs-core, a bug) is EIO. Ordinary answers
 * ({@link Errno#ordinary()}: ENOENT, EEXIST, EMLINK, EFBIG, ...) are not logged; the rest are, once with a stack
 * trace per kind and place.
 */
public final class ErrnoMapper {
    private static final int TRACES_MAX = 1000;
    private static final Set<String> LOGGED_TRACES = ConcurrentHashMap.newKeySet();

    private ErrnoMapper() {
    }

    /** The errno for {@code t}, negative as FUSE replies carry it (-2 for ENOENT). */
    public static int errno(Throwable t) {
        return -errnoOf(t).number();
    }

    /** The errno for {@code t} as a value: its own for an {@link FsException}, else EIO. */
    public static Errno errnoOf(Throwable t) {
        return t instanceof FsException f ? f.errno() : Errno.EIO;
    }

    /** Whether the error is an ordinary answer (not worth a log line), like a name that does not exist. */
    public static boolean expected(Throwable t) {
        return t instanceof FsException f && f.ordinary();
    }

    /**
     * The negative errno for operation {@code op} on {@code path} that failed with {@code t}, after logging it to
     * {@code log} unless it is an ordinary answer: a filesystem error as one warning line, anything else (a bug)
     * as an error with its stack trace the first time it comes from that place.
     */
    public static int reply(Logger log, String op, String path, Throwable t) {
        if (!expected(t)) {
            if (t instanceof FsException) {
                log.warn("{} {}: {}", op, path, t.getMessage());
            } else if (firstOfItsKind(t)) {
                log.error("{} {}: unexpected error", op, path, t);
            } else {
                log.error("{} {}: unexpected error {} (stack trace logged before)", op, path, t.toString());
            }
        }
        return errno(t);
    }

    /** Whether no error of this class was thrown from the same place before: its stack trace is then worth a log. */
    private static boolean firstOfItsKind(Throwable t) {
        StackTraceElement[] st = t.getStackTrace();
        String where = t.getClass().getName() + (st.length > 0 ? "@" + st[0] : "");
        return LOGGED_TRACES.size() < TRACES_MAX && LOGGED_TRACES.add(where);
    }
}
