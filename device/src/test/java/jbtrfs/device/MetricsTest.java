package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The meters count what really happened. */
class MetricsTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"aio", "nio", "memory"})
    void everyBackend_countsBytesLatencyAndBatches(String kind) throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (BlockDevice dev = Devices.open(kind, dir, 1 << 20, 16, registry)) {
            List<IoRequest> writes = new ArrayList<>();
            for (int i = 0; i < 10; i++) writes.add(IoRequest.write(i * 8192L, ByteBuffer.allocate(8192)));
            dev.submit(writes).await();
            dev.flush();
            dev.read(0, ByteBuffer.allocate(4096));
            assertThrows(DeviceIoException.class, () -> dev.read(1 << 20, ByteBuffer.allocate(4096)));

            assertEquals(10, count(registry, DeviceMetrics.SUBMITTED, "write"));
            assertEquals(10, count(registry, DeviceMetrics.COMPLETED, "write"));
            assertEquals(1, count(registry, DeviceMetrics.COMPLETED, "flush"));
            assertEquals(2, count(registry, DeviceMetrics.SUBMITTED, "read"));
            assertEquals(81920, count(registry, DeviceMetrics.BYTES, "write"));
            assertEquals(4096, count(registry, DeviceMetrics.BYTES, "read"));
            Timer t = registry.get(DeviceMetrics.LATENCY).tag("type", "write").timer();
            assertEquals(10, t.count());
            assertTrue(t.totalTime(TimeUnit.NANOSECONDS) > 0);
            ValueAtPercentile[] p = t.takeSnapshot().percentileValues();
            assertEquals(2, p.length, "p50 and p99 published");
            assertEquals(1.0, registry.get(DeviceMetrics.ERRORS).tag("errno", Integer.toString(Errno.ENXIO))
                    .counter().count());
            // 1 batch of 10 writes, flush, read, and the refused read never reached a batch
            assertEquals(3, registry.get(DeviceMetrics.BATCH_SIZE).summary().count());
            assertEquals(12, registry.get(DeviceMetrics.BATCH_SIZE).summary().totalAmount());
            assertEquals(0.0, registry.get(DeviceMetrics.IN_FLIGHT).gauge().value());
        }
        assertTrue(registry.find(DeviceMetrics.IN_FLIGHT).gauges().isEmpty(), "close removes the meters");
    }

    @Test
    void inFlightGauge_seesRequestsInFlight() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[1 << 20], 8,
                FaultPlan.none().latency(Duration.ofMillis(200), Duration.ZERO), 1, registry);
        for (int i = 0; i < 5; i++) dev.submit(IoRequest.read(0, ByteBuffer.allocate(512)));
        assertEquals(5.0, registry.get(DeviceMetrics.IN_FLIGHT).gauge().value());
        dev.close();
    }

    static double count(SimpleMeterRegistry r, String name, String type) {
        return r.get(name).tag("type", type).counter().count();
    }
}
