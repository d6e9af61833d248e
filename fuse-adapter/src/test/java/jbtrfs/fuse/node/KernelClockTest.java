package jbtrfs.fuse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.time.Clock;
import java.time.Instant;

import org.junit.jupiter.api.Test;

import jbtrfs.fuse.kernel.FuseLibC;

/** The clock a native mount stamps times from, read beside the kernel's coarse clock itself (not timed). */
class KernelClockTest {
    private static final int CLOCK_REALTIME_COARSE = 5;

    @Test
    void insideCoarseScope_readsTheKernelsCoarseClock() {
        Clock clock = KernelClock.forMount();
        Instant before = coarseNow();
        KernelClock.coarse();
        Instant stamped;
        try {
            stamped = clock.instant();
        } finally {
            KernelClock.end();
        }
        Instant after = coarseNow();
        // a fine-grained clock runs up to a tick ahead of the coarse one: it would lie after the second coarse read
        assertFalse(stamped.isBefore(before), stamped + " before " + before);
        assertFalse(stamped.isAfter(after), stamped + " after " + after);
    }

    @Test
    void outsideScope_readsTheSystemClock() {
        Clock clock = KernelClock.forMount();
        Instant before = Instant.now();
        Instant stamped = clock.instant();
        Instant after = Instant.now();
        assertFalse(stamped.isBefore(before), stamped + " before " + before);
        assertFalse(stamped.isAfter(after), stamped + " after " + after);
        assertEquals(clock, clock.withZone(clock.getZone()));
    }

    private static Instant coarseNow() {
        long[] ts = new long[2];
        assertEquals(0, FuseLibC.get().clock_gettime(CLOCK_REALTIME_COARSE, ts));
        return Instant.ofEpochSecond(ts[0], ts[1]);
    }
}
