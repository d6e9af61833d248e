package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;

/** Errno values are Linux's (asm-generic/errno-base.h, errno.h), written out so a wrong mapping cannot hide. */
class ErrnoMapperTest {
    private static final Map<Errno, Integer> LINUX = Map.ofEntries(
            Map.entry(Errno.EPERM, 1), Map.entry(Errno.ENOENT, 2), Map.entry(Errno.EIO, 5), Map.entry(Errno.ENXIO, 6),
            Map.entry(Errno.E2BIG, 7), Map.entry(Errno.EBADF, 9), Map.entry(Errno.EAGAIN, 11),
            Map.entry(Errno.EACCES, 13), Map.entry(Errno.EEXIST, 17), Map.entry(Errno.EXDEV, 18),
            Map.entry(Errno.ENODEV, 19), Map.entry(Errno.ENOTDIR, 20), Map.entry(Errno.EISDIR, 21), Map.entry(Errno.EINVAL, 22),
            Map.entry(Errno.ENOTTY, 25), Map.entry(Errno.EFBIG, 27), Map.entry(Errno.ENOSPC, 28),
            Map.entry(Errno.EROFS, 30), Map.entry(Errno.EMLINK, 31), Map.entry(Errno.ERANGE, 34),
            Map.entry(Errno.ENAMETOOLONG, 36), Map.entry(Errno.ENOSYS, 38), Map.entry(Errno.ENOTEMPTY, 39),
            Map.entry(Errno.ENODATA, 61), Map.entry(Errno.EOVERFLOW, 75), Map.entry(Errno.EOPNOTSUPP, 95),
            Map.entry(Errno.ENOTCONN, 107), Map.entry(Errno.EINPROGRESS, 115), Map.entry(Errno.EUCLEAN, 117));

    /** A Logger that records the level and arguments of each call (only warn and error are expected). */
    private static final class RecordingLog {
        final List<String> levels = new ArrayList<>();
        final List<Object[]> args = new ArrayList<>();
        final Logger logger = (Logger) Proxy.newProxyInstance(Logger.class.getClassLoader(),
                new Class<?>[] {Logger.class}, (proxy, method, a) -> {
                    if (method.getName().startsWith("is")) return true;
                    if (method.getName().equals("getName")) return "test";
                    levels.add(method.getName());
                    args.add(a);
                    return null;
                });
    }

    @Test
    void errno_isLinuxNumberOfEveryErrno_negative() {
        assertEquals(EnumSet.allOf(Errno.class), EnumSet.copyOf(LINUX.keySet()), "the table names every Errno");
        for (Errno e : Errno.values()) {
            assertEquals(LINUX.get(e), e.number(), e.name());
            assertEquals(-LINUX.get(e), ErrnoMapper.errno(new FsException(e, "x")), e.name());
            assertEquals(e, ErrnoMapper.errnoOf(new FsException(e, "x")));
        }
    }

    @Test
    void errno_damageAndAnythingUnknown_isEio() {
        assertEquals(-5, ErrnoMapper.errno(new CorruptBlockException(5, 4096, 3, "bad")));
        // fsync after an abort: EIO, while a change after it is EROFS
        assertEquals(-5, ErrnoMapper.errno(new TransactionAbortedException(8, 7, "commit failed", null)));
        assertEquals(-5, ErrnoMapper.errno(new IOException("x")));
        assertEquals(-5, ErrnoMapper.errno(new UncheckedIOException(new IOException("x"))));
        assertEquals(-5, ErrnoMapper.errno(new IllegalStateException("bug")));
        assertEquals(-5, ErrnoMapper.errno(new StackOverflowError()));
    }

    @Test
    void reply_ordinaryAnswer_logsNothing() {
        RecordingLog log = new RecordingLog();
        for (Errno e : Errno.values()) {
            if (!e.ordinary()) continue;
            assertEquals(-e.number(), ErrnoMapper.reply(log.logger, "op", "/p", new FsException(e, "x")));
        }
        // EMLINK and EFBIG were logged as unexpected before they became plain errnos
        assertTrue(Errno.EMLINK.ordinary() && Errno.EFBIG.ordinary());
        assertEquals(List.of(), log.levels);
    }

    @Test
    void reply_damage_logsOneWarningLine() {
        RecordingLog log = new RecordingLog();
        assertEquals(-5, ErrnoMapper.reply(log.logger, "read", "/f", new CorruptBlockException(5, 4096, -1, "bad")));
        assertEquals(-117, ErrnoMapper.reply(log.logger, "read", "/f", new FsException(Errno.EUCLEAN, "bad")));
        assertEquals(List.of("warn", "warn"), log.levels);
        assertNull(throwableIn(log.args.get(0)), "one line, no stack trace");
    }

    @Test
    void reply_bug_logsItsStackTraceOnceFromEachPlace() {
        RecordingLog log = new RecordingLog();
        for (int i = 0; i < 2; i++) {
            assertEquals(-5, ErrnoMapper.reply(log.logger, "write", "/f", new IllegalStateException("bug " + i)));
        }
        assertEquals(List.of("error", "error"), log.levels);
        assertNotNull(throwableIn(log.args.get(0)), "the first one with its stack trace");
        assertNull(throwableIn(log.args.get(1)), "the same place again without");
    }

    @Test
    void expected_ordinaryAnswersOnly() {
        assertTrue(ErrnoMapper.expected(new FsException(Errno.ENOENT, "x")));
        assertTrue(ErrnoMapper.expected(new FsException(Errno.ENODATA, "x")));
        assertTrue(ErrnoMapper.expected(new FsException(Errno.EROFS, "x")));
        assertFalse(ErrnoMapper.expected(new FsException(Errno.EIO, "x")));
        assertFalse(ErrnoMapper.expected(new CorruptBlockException(5, 4096, -1, "bad")));
        assertFalse(ErrnoMapper.expected(new IllegalStateException("bug")));
        assertFalse(ErrnoMapper.expected(new TransactionAbortedException(8, 7, "commit failed", null)));
    }

    /** The Throwable among a log call's arguments (SLF4J takes a last Throwable as the stack to print), or null. */
    private static Throwable throwableIn(Object[] args) {
        for (Object a : args) {
            if (a instanceof Throwable t) return t;
            if (a instanceof Object[] more) {
                Throwable t = throwableIn(more);
                if (t != null) return t;
            }
        }
        return null;
    }
}
