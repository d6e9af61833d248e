package jbtrfs.fuse.node;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.fuse.kernel.FuseLibC;

/**
 * The clock a native mount stamps inode times from: the system's, except while a thread creates a regular file
 * ({@link #coarse}), when it is the kernel's coarse clock (CLOCK_REALTIME_COARSE, what its current_time() reads).
 * With writeback caching the kernel stamps a file's mtime and ctime itself at write(2), from that clock. A new file
 * stamped from it too shows the same time when its first write comes within the same tick: file_update_time then
 * leaves the inode clean, so the kernel sends no SETATTR to flush the times before the next chown or utimensat (one
 * request less per untarred file), and the first write can no longer set a file's mtime before its creation time,
 * as a fine-grained creation time followed by the kernel's coarse stamp did.
 */
public final class KernelClock extends Clock {
    private static final Logger LOG = LoggerFactory.getLogger(KernelClock.class);
    private static final int CLOCK_REALTIME_COARSE = 5;
    /** Inside a {@link #coarse} scope: the thread's timespec buffer; null outside. */
    private static final ThreadLocal<long[]> SCOPE = new ThreadLocal<>();

    private final FuseLibC libc;

    private KernelClock(FuseLibC libc) {
        this.libc = libc;
    }

    /** This clock, or the system's (one log line says why) where the kernel's coarse clock cannot be read. */
    public static Clock forMount() {
        FuseLibC libc = FuseLibC.get();
        if (libc.clock_gettime(CLOCK_REALTIME_COARSE, new long[2]) != 0) {
            LOG.info("no CLOCK_REALTIME_COARSE: new files are stamped from the system clock");
            return Clock.systemUTC();
        }
        return new KernelClock(libc);
    }

    /** Opens a scope on this thread in which times come from the kernel's coarse clock; {@link #end} closes it. */
    static void coarse() {
        SCOPE.set(new long[2]);
    }

    static void end() {
        SCOPE.remove();
    }

    @Override
    public Instant instant() {
        long[] ts = SCOPE.get();
        // read once at mount (forMount), the call cannot fail after: the system clock is only a guard
        if (ts == null || libc.clock_gettime(CLOCK_REALTIME_COARSE, ts) != 0) return Instant.now();
        return Instant.ofEpochSecond(ts[0], ts[1]);
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        if (zone.equals(ZoneOffset.UTC)) return this;
        throw new UnsupportedOperationException("inode times are UTC");
    }
}
