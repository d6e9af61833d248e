package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** Random batches written, read back and compared with a model, on every backend. */
class RoundTripTest {
    private static final int SIZE = 8 << 20;
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"aio", "nio", "memory"})
    void randomBatches_readBackEqualModel(String kind) throws Exception {
        byte[] model = new byte[SIZE];
        Random random = new Random(kind.hashCode());
        AlignedBuffers pool = new AlignedBuffers(BLOCK, 16);
        try (BlockDevice dev = Devices.open(kind, dir, SIZE, 16, new SimpleMeterRegistry())) {
            assertEquals(SIZE, dev.size());
            for (int round = 0; round < 20; round++) {
                List<IoRequest> batch = new ArrayList<>();
                int n = 1 + random.nextInt(40); // often more than the queue depth
                for (int i = 0; i < n; i++) {
                    int blocks = 1 + random.nextInt(16);
                    long offset = (long) random.nextInt(SIZE / BLOCK - blocks) * BLOCK;
                    byte[] data = new byte[blocks * BLOCK];
                    random.nextBytes(data);
                    // a third heap, a third pooled direct, a third direct but misaligned: the engine must cope
                    ByteBuffer b = switch (i % 3) {
                        case 0 -> ByteBuffer.wrap(data);
                        case 1 -> pool.acquire(data.length).put(0, data);
                        default -> ByteBuffer.allocateDirect(data.length + 8).position(8).slice().put(0, data);
                    };
                    batch.add(IoRequest.write(offset, b));
                    System.arraycopy(data, 0, model, (int) offset, data.length); // later writes in a batch win
                }
                batch = dropOverlaps(batch, dev);
                dev.submit(batch).await();
            }
            // read back: one batch of the whole device in 64 KiB pieces, then unaligned synchronous reads
            List<ByteBuffer> pieces = new ArrayList<>();
            List<IoRequest> reads = new ArrayList<>();
            for (int off = 0; off < SIZE; off += 65536) {
                ByteBuffer b = off % 131072 == 0 ? ByteBuffer.allocate(65536) : pool.acquire(65536);
                pieces.add(b);
                reads.add(IoRequest.read(off, b));
            }
            dev.submit(reads).await();
            for (int i = 0; i < pieces.size(); i++) {
                byte[] got = new byte[65536];
                pieces.get(i).get(0, got);
                byte[] want = new byte[65536];
                System.arraycopy(model, i * 65536, want, 0, 65536);
                assertArrayEquals(want, got, kind + ": piece at " + i * 65536);
            }
            for (int i = 0; i < 50; i++) {
                int len = 1 + random.nextInt(20000);
                long off = random.nextInt(SIZE - len);
                ByteBuffer b = ByteBuffer.allocate(len);
                dev.read(off, b);
                assertEquals(len, b.position(), "read advances the buffer like FileChannel");
                byte[] want = new byte[len];
                System.arraycopy(model, (int) off, want, 0, len);
                assertArrayEquals(want, b.array(), kind + ": unaligned read at " + off + "+" + len);
            }
        }
    }

    /**
     * Overlapping writes within one batch have no defined order on a real disk: when a batch has any, its
     * requests are submitted one at a time in order (as the model applied them) and nothing is left to submit.
     */
    private static List<IoRequest> dropOverlaps(List<IoRequest> batch, BlockDevice dev)
            throws Exception {
        for (int i = 0; i < batch.size(); i++) {
            for (int j = 0; j < i; j++) {
                IoRequest a = batch.get(i);
                IoRequest b = batch.get(j);
                if (a.offset() < b.offset() + b.length() && b.offset() < a.offset() + a.length()) {
                    for (IoRequest r : batch) dev.submit(List.of(r)).await();
                    return List.of();
                }
            }
        }
        return batch;
    }

    @ParameterizedTest
    @ValueSource(strings = {"aio", "nio", "memory"})
    void manyThreadsSubmitting_allDataLands(String kind) throws Exception {
        int threads = 6;
        int region = SIZE / threads / BLOCK * BLOCK;
        try (BlockDevice dev = Devices.open(kind, dir, SIZE, 8, new SimpleMeterRegistry())) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<byte[]>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                results.add(pool.submit(() -> {
                    Random random = new Random(id);
                    byte[] mine = new byte[region];
                    random.nextBytes(mine);
                    go.await();
                    for (int done = 0; done < region; ) {
                        List<IoRequest> batch = new ArrayList<>();
                        for (int i = 0; i < 5 && done < region; i++, done += 2 * BLOCK) {
                            int len = Math.min(2 * BLOCK, region - done);
                            batch.add(IoRequest.write((long) id * region + done, ByteBuffer.wrap(mine, done, len)));
                        }
                        dev.submit(batch).await();
                    }
                    return mine;
                }));
            }
            go.countDown();
            for (int t = 0; t < threads; t++) {
                byte[] want = results.get(t).get();
                ByteBuffer got = ByteBuffer.allocate(region);
                dev.read((long) t * region, got);
                assertArrayEquals(want, got.array(), kind + ": region of thread " + t);
            }
            pool.shutdown();
            assertEquals(0, dev.inFlight());
            assertTrue(dev.queueDepth() == 8);
        }
    }
}
