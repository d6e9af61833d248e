package jbtrfs.fuse.kernel;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The uniques that INTERRUPT has named. An INTERRUPT may be read on one channel before or after the request it
 * names on another, so it is kept until that request ends; one naming a request answered already would stay
 * forever, so entries older than {@link #EXPIRY_NANOS} go when the set grows (as libfuse keeps its list).
 */
final class Interrupts {
    static final long EXPIRY_NANOS = 30_000_000_000L;
    private static final int PRUNE_AT = 64;

    private final ConcurrentHashMap<Long, Long> named = new ConcurrentHashMap<>();
    private final LongSupplier clock;

    Interrupts(LongSupplier nanoClock) {
        this.clock = nanoClock;
    }

    /** INTERRUPT naming {@code unique}. */
    void interrupt(long unique) {
        long now = clock.getAsLong();
        if (named.size() >= PRUNE_AT) named.values().removeIf(t -> now - t > EXPIRY_NANOS);
        named.put(unique, now);
    }

    boolean interrupted(long unique) {
        return !named.isEmpty() && named.containsKey(unique);
    }

    /** The request {@code unique} was answered: an INTERRUPT of it no longer matters. */
    void done(long unique) {
        if (!named.isEmpty()) named.remove(unique);
    }

    int size() {
        return named.size();
    }
}
