package jbtrfs.device;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Objects;

/**
 * How to open a {@link BlockDevice}.
 *
 * @param backend    which engine ({@link Backend#AUTO} picks the fastest that works)
 * @param writable   open for writing as well as reading
 * @param queueDepth most requests in flight; submit blocks beyond it (back-pressure)
 * @param directIo   ask for O_DIRECT (AIO only; refused by the filesystem means buffered, logged once)
 * @param registry   where the device's meters go
 * @param devid      the filesystem member the device is (its devid), tagging its meters; "" when not one
 */
public record DeviceOptions(Backend backend, boolean writable, int queueDepth, boolean directIo,
                            MeterRegistry registry, String devid) {
    /** Queue depth when none is given: enough to keep an SSD's queue full. */
    public static final int DEFAULT_QUEUE_DEPTH = 64;

    public DeviceOptions {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(devid, "devid");
        if (queueDepth < 1 || queueDepth > 65536) {
            throw new IllegalArgumentException("queue depth must be 1..65536, got " + queueDepth);
        }
    }

    /** Read-write, automatic backend, default queue depth, O_DIRECT, a private simple registry. */
    public static DeviceOptions defaults() {
        return new DeviceOptions(Backend.AUTO, true, DEFAULT_QUEUE_DEPTH, true, new SimpleMeterRegistry(), "");
    }

    public DeviceOptions withBackend(Backend b) {
        return new DeviceOptions(b, writable, queueDepth, directIo, registry, devid);
    }

    public DeviceOptions withWritable(boolean w) {
        return new DeviceOptions(backend, w, queueDepth, directIo, registry, devid);
    }

    public DeviceOptions withQueueDepth(int q) {
        return new DeviceOptions(backend, writable, q, directIo, registry, devid);
    }

    public DeviceOptions withDirectIo(boolean d) {
        return new DeviceOptions(backend, writable, queueDepth, d, registry, devid);
    }

    public DeviceOptions withRegistry(MeterRegistry r) {
        return new DeviceOptions(backend, writable, queueDepth, directIo, r, devid);
    }

    /** The member of a multi-device filesystem this device is, by devid (a tag on its meters). */
    public DeviceOptions withDevid(long id) {
        return new DeviceOptions(backend, writable, queueDepth, directIo, registry, Long.toString(id));
    }
}
