package jbtrfs.device;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What goes wrong on a {@link MemoryBlockDevice}: EIO on the Nth request or on any request touching a byte
 * range, and added latency. Immutable apart from the one-shot bookkeeping of which Nth-request faults fired.
 */
public final class FaultPlan {
    private final Set<Long> failNth;
    /** Every request from this number on fails (the power is gone); 0 for never. */
    private final long failFromNth;
    private final long failFrom;
    private final long failTo;
    private final boolean rangeReads;
    private final boolean rangeWrites;
    private final int errno;
    private final long latencyNanos;
    private final long jitterNanos;

    private FaultPlan(Set<Long> failNth, long failFromNth, long failFrom, long failTo, boolean rangeReads, boolean rangeWrites,
                      int errno, long latencyNanos, long jitterNanos) {
        this.failNth = failNth;
        this.failFromNth = failFromNth;
        this.failFrom = failFrom;
        this.failTo = failTo;
        this.rangeReads = rangeReads;
        this.rangeWrites = rangeWrites;
        this.errno = errno;
        this.latencyNanos = latencyNanos;
        this.jitterNanos = jitterNanos;
    }

    /** Nothing fails, no added latency. */
    public static FaultPlan none() {
        return new FaultPlan(Set.of(), 0, -1, -1, false, false, Errno.EIO, 0, 0);
    }

    /** Also fails the {@code n}th request submitted (1-based, flushes count) with this plan's errno. */
    public FaultPlan failNth(long n) {
        Set<Long> s = ConcurrentHashMap.newKeySet();
        s.addAll(failNth);
        s.add(n);
        return new FaultPlan(s, failFromNth, failFrom, failTo, rangeReads, rangeWrites, errno, latencyNanos, jitterNanos);
    }

    /**
     * Fails the {@code n}th request and every later one: the power goes at request n. Unlike {@link #failNth}, a
     * caller that tolerates one failed write (a space cache page) cannot carry on writing after the cut.
     */
    public FaultPlan failFromNth(long n) {
        return new FaultPlan(failNth, n, failFrom, failTo, rangeReads, rangeWrites, errno, latencyNanos, jitterNanos);
    }

    /** Fails every read and/or write overlapping bytes {@code [from, to)}. */
    public FaultPlan failRange(long from, long to, boolean reads, boolean writes) {
        return new FaultPlan(failNth, failFromNth, from, to, reads, writes, errno, latencyNanos, jitterNanos);
    }

    /** The errno injected faults report (EIO unless set). */
    public FaultPlan errno(int e) {
        return new FaultPlan(failNth, failFromNth, failFrom, failTo, rangeReads, rangeWrites, e, latencyNanos, jitterNanos);
    }

    /** Every request takes {@code base} plus a uniform random part of {@code jitter} (seeded by the device). */
    public FaultPlan latency(Duration base, Duration jitter) {
        return new FaultPlan(failNth, failFromNth, failFrom, failTo, rangeReads, rangeWrites, errno, base.toNanos(),
                jitter.toNanos());
    }

    int errno() { return errno; }

    long latencyNanos() { return latencyNanos; }

    long jitterNanos() { return jitterNanos; }

    /** Whether request number {@code seq} (1-based) touching {@code [offset, offset+length)} fails. */
    boolean fails(long seq, IoRequest.Op op, long offset, long length) {
        if (failNth.contains(seq) || (failFromNth > 0 && seq >= failFromNth)) return true;
        if (op == IoRequest.Op.FLUSH || failFrom < 0) return false;
        boolean kind = op == IoRequest.Op.READ ? rangeReads : rangeWrites;
        return kind && offset < failTo && offset + length > failFrom;
    }
}
