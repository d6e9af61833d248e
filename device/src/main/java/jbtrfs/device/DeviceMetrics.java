package jbtrfs.device;

import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;

/**
 * The device's Micrometer meters, all tagged with the backend, the device path and the filesystem member it is
 * (devid; "" for a device not known as one), so that a set's members are told apart.
 *
 * <p>Meters per request type are looked up once here, not per request, so the hot path only increments.
 */
final class DeviceMetrics {
    static final String IN_FLIGHT = "jbtrfs.device.inflight";
    static final String SUBMITTED = "jbtrfs.device.requests.submitted";
    static final String COMPLETED = "jbtrfs.device.requests.completed";
    static final String BYTES = "jbtrfs.device.bytes";
    static final String LATENCY = "jbtrfs.device.latency";
    static final String BATCH_SIZE = "jbtrfs.device.batch.size";
    static final String ERRORS = "jbtrfs.device.errors";

    private final MeterRegistry registry;
    private final String backend;
    private final String device;
    private final Tags tags;
    private final Counter[] submitted = new Counter[IoRequest.Op.values().length];
    private final Counter[] completed = new Counter[IoRequest.Op.values().length];
    private final Counter[] bytes = new Counter[IoRequest.Op.values().length];
    private final Timer[] latency = new Timer[IoRequest.Op.values().length];
    private final DistributionSummary batchSize;
    private final ConcurrentHashMap<Integer, Counter> errors = new ConcurrentHashMap<>();

    DeviceMetrics(MeterRegistry registry, String backend, String device, String devid, IntSupplier inFlightNow) {
        this.registry = registry;
        this.backend = backend;
        this.device = device;
        this.tags = Tags.of("backend", backend, "device", device, "devid", devid);
        for (IoRequest.Op op : IoRequest.Op.values()) {
            String type = op.name().toLowerCase(Locale.ROOT);
            int i = op.ordinal();
            submitted[i] = Counter.builder(SUBMITTED).tags(tags).tag("type", type)
                    .description("requests handed to the device").register(registry);
            completed[i] = Counter.builder(COMPLETED).tags(tags).tag("type", type)
                    .description("requests finished, successfully or not").register(registry);
            bytes[i] = Counter.builder(BYTES).tags(tags).tag("type", type)
                    .baseUnit("bytes").description("bytes moved by successful requests").register(registry);
            latency[i] = Timer.builder(LATENCY).tags(tags).tag("type", type)
                    .publishPercentiles(0.5, 0.99).description("submit to completion").register(registry);
        }
        batchSize = DistributionSummary.builder(BATCH_SIZE).tags(tags)
                .description("requests per submit call").register(registry);
        Gauge.builder(IN_FLIGHT, inFlightNow, s -> s.getAsInt()).tags(tags).strongReference(true)
                .description("requests submitted and not yet completed").register(registry);
    }

    void submitted(IoRequest.Op op) { submitted[op.ordinal()].increment(); }

    void batch(int n) { batchSize.record(n); }

    void succeeded(IoRequest.Op op, int n, long nanos) {
        completed[op.ordinal()].increment();
        if (n > 0) bytes[op.ordinal()].increment(n);
        latency[op.ordinal()].record(nanos, TimeUnit.NANOSECONDS);
    }

    void failed(IoRequest.Op op, int errno, long nanos) {
        completed[op.ordinal()].increment();
        latency[op.ordinal()].record(nanos, TimeUnit.NANOSECONDS);
        errors.computeIfAbsent(errno, e -> Counter.builder(ERRORS).tags(tags)
                .tag("errno", Integer.toString(e)).description("failed requests by errno").register(registry))
                .increment();
    }

    /** Removes this device's meters so a reopened device starts fresh and the gauge does not pin the device. */
    void close() {
        registry.getMeters().stream()
                .filter(m -> m.getId().getName().startsWith("jbtrfs.device.")
                        && backend.equals(m.getId().getTag("backend")) && device.equals(m.getId().getTag("device")))
                .forEach(registry::remove);
    }
}
