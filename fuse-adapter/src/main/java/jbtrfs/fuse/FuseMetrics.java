package jbtrfs.fuse;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * Meters of the FUSE side: each operation's latency ({@code jbtrfs.fuse.operations}, tag op), its errors by errno
 * ({@code jbtrfs.fuse.errors}), and the bytes read through the mount ({@code jbtrfs.fuse.read.bytes}).
 */
public final class FuseMetrics {
    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> errors = new ConcurrentHashMap<>();
    private final Counter bytesRead;
    private final Counter bytesWritten;

    public FuseMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.bytesRead = Counter.builder("jbtrfs.fuse.read.bytes").baseUnit("bytes")
                .description("bytes returned by read calls").register(registry);
        this.bytesWritten = Counter.builder("jbtrfs.fuse.write.bytes").baseUnit("bytes")
                .description("bytes taken by write calls").register(registry);
    }

    /** Records one call of {@code op} that took {@code nanos} and returned {@code result} (negative: an errno). */
    public void record(String op, long nanos, int result) {
        timers.computeIfAbsent(op, o -> Timer.builder("jbtrfs.fuse.operations").tag("op", o)
                .description("FUSE operations served").publishPercentiles(0.5, 0.99).register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
        if (result < 0) {
            errors.computeIfAbsent(op + "/" + (-result), k -> Counter.builder("jbtrfs.fuse.errors").tag("op", op)
                    .tag("errno", Integer.toString(-result)).description("FUSE operations that failed")
                    .register(registry)).increment();
        }
    }

    public void bytesRead(int n) {
        bytesRead.increment(n);
    }

    public void bytesWritten(int n) {
        bytesWritten.increment(n);
    }
}
