package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Batches awaited as soon as they are submitted, from several threads at once (the commit's pattern). On the
 * FileChannel engine the waiting thread runs the requests no pool thread has taken yet: each request must still run
 * exactly once (the meters would count a second run) and land its own bytes.
 */
class AwaitedBatchTest {
    private static final int BLOCK = 4096;
    private static final int THREADS = 4;
    private static final int BATCHES = 60;
    private static final int BLOCKS_PER_THREAD = 256;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"nio", "aio", "memory"})
    void concurrentAwaitedBatches_eachRequestRunsOnce(String kind) throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        int size = THREADS * BLOCKS_PER_THREAD * BLOCK;
        byte[][] last = new byte[THREADS * BLOCKS_PER_THREAD][];
        long requests = 0;
        try (BlockDevice dev = Devices.open(kind, dir, size, 32, registry)) {
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<Long>> done = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    done.add(pool.submit(() -> writeBatches(dev, thread, last)));
                }
                for (Future<Long> f : done) requests += f.get();
            } finally {
                pool.shutdown();
            }
            dev.flush();
            for (int b = 0; b < last.length; b++) {
                if (last[b] == null) continue;
                ByteBuffer back = ByteBuffer.allocate(BLOCK);
                dev.read((long) b * BLOCK, back);
                assertArrayEquals(last[b], back.array(), "block " + b);
            }
            // the meters go when the device closes: read them before
            assertEquals(requests, MetricsTest.count(registry, DeviceMetrics.SUBMITTED, "write"));
            assertEquals(requests, MetricsTest.count(registry, DeviceMetrics.COMPLETED, "write"));
            assertEquals(requests * BLOCK, MetricsTest.count(registry, DeviceMetrics.BYTES, "write"));
        }
    }

    /** Batches of 1 to 40 writes into this thread's own blocks, each awaited at once; returns how many. */
    private static long writeBatches(BlockDevice dev, int thread, byte[][] last) throws Exception {
        Random random = new Random(thread);
        long n = 0;
        for (int i = 0; i < BATCHES; i++) {
            int count = 1 + random.nextInt(40);
            List<IoRequest> batch = new ArrayList<>();
            int first = random.nextInt(BLOCKS_PER_THREAD - count + 1);
            for (int j = 0; j < count; j++) {
                int block = thread * BLOCKS_PER_THREAD + first + j;
                byte[] data = new byte[BLOCK];
                random.nextBytes(data);
                last[block] = data;
                batch.add(IoRequest.write((long) block * BLOCK, ByteBuffer.wrap(data)));
            }
            dev.submit(batch).await();
            n += count;
        }
        return n;
    }
}
