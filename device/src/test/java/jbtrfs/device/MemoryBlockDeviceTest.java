package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The test device itself: faults surface, flush ordering survives a power cut, back-pressure holds. */
class MemoryBlockDeviceTest {
    private static final int SIZE = 1 << 20;
    private static final int SECTOR = MemoryBlockDevice.SECTOR;

    @Test
    void powerCut_keepsEverythingAcknowledgedBeforeACompletedFlush() throws Exception {
        int dropped = 0;
        int kept = 0;
        int torn = 0;
        for (long seed = 0; seed < 60; seed++) {
            Random random = new Random(seed);
            MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 16, FaultPlan.none(), seed,
                    new SimpleMeterRegistry());
            byte[] current = new byte[SIZE];
            byte[] durable = new byte[SIZE];
            // per sector, every value written since the last completed flush (the candidates after a cut)
            List<List<byte[]>> since = new ArrayList<>();
            for (int s = 0; s < SIZE / SECTOR; s++) since.add(new ArrayList<>());
            int rounds = 5 + random.nextInt(10);
            for (int round = 0; round < rounds; round++) {
                List<IoRequest> batch = new ArrayList<>();
                int n = 1 + random.nextInt(6);
                for (int i = 0; i < n; i++) {
                    int sectors = 1 + random.nextInt(16);
                    int off = random.nextInt(SIZE / SECTOR - sectors) * SECTOR;
                    byte[] data = new byte[sectors * SECTOR];
                    random.nextBytes(data);
                    // one write per batch at most on any sector, so the model's order is the disk's
                    if (batch.stream().anyMatch(r -> off < r.offset() + r.length() && r.offset() < off + data.length)) {
                        continue;
                    }
                    batch.add(IoRequest.write(off, ByteBuffer.wrap(data)));
                    System.arraycopy(data, 0, current, off, data.length);
                    for (int s = 0; s < sectors; s++) {
                        since.get(off / SECTOR + s).add(Arrays.copyOfRange(data, s * SECTOR, (s + 1) * SECTOR));
                    }
                }
                dev.submit(batch).await();
                if (random.nextInt(3) == 0) {
                    dev.flush();
                    System.arraycopy(current, 0, durable, 0, SIZE);
                    since.forEach(List::clear);
                }
            }
            byte[] image = dev.powerCut(seed * 31 + 7);
            dev.close();
            for (int s = 0; s < SIZE / SECTOR; s++) {
                byte[] got = Arrays.copyOfRange(image, s * SECTOR, (s + 1) * SECTOR);
                byte[] safe = Arrays.copyOfRange(durable, s * SECTOR, (s + 1) * SECTOR);
                List<byte[]> later = since.get(s);
                if (later.isEmpty()) {
                    assertArrayEquals(safe, got, "seed " + seed + ": flushed sector " + s + " changed by the cut");
                } else {
                    boolean known = Arrays.equals(safe, got) || later.stream().anyMatch(v -> Arrays.equals(v, got));
                    assertTrue(known, "seed " + seed + ": sector " + s + " holds data nobody wrote");
                    if (Arrays.equals(safe, got)) dropped++;
                    else if (Arrays.equals(later.get(later.size() - 1), got)) kept++;
                    else torn++;
                }
            }
        }
        // the cut must really lose and keep unflushed data, or the check above proves nothing
        assertTrue(dropped > 0 && kept > 0, "dropped " + dropped + ", kept " + kept + ", torn " + torn);
    }

    @Test
    void powerCut_tearsOnlyAtPhysicalSectors_aFourKibWriteIsWholeOrAbsent() throws Exception {
        int torn = 0;
        for (long seed = 0; seed < 200; seed++) {
            MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 16, FaultPlan.none(), seed,
                    new SimpleMeterRegistry());
            byte[] small = new byte[MemoryBlockDevice.ATOMIC_WRITE];
            byte[] big = new byte[4 * MemoryBlockDevice.ATOMIC_WRITE];
            Arrays.fill(small, (byte) 1);
            Arrays.fill(big, (byte) 2);
            dev.submit(List.of(IoRequest.write(0, ByteBuffer.wrap(small)),
                    IoRequest.write(MemoryBlockDevice.ATOMIC_WRITE * 2L, ByteBuffer.wrap(big)))).await();
            byte[] image = dev.powerCut(seed);
            dev.close();
            byte[] first = Arrays.copyOfRange(image, 0, small.length);
            assertTrue(Arrays.equals(first, small) || Arrays.equals(first, new byte[small.length]),
                    "seed " + seed + ": the 4 KiB write was torn");
            int pieces = 0;
            for (int i = 0; i < 4; i++) {
                int at = MemoryBlockDevice.ATOMIC_WRITE * (2 + i);
                byte[] p = Arrays.copyOfRange(image, at, at + MemoryBlockDevice.ATOMIC_WRITE);
                assertTrue(Arrays.equals(p, Arrays.copyOf(big, p.length)) || Arrays.equals(p, new byte[p.length]));
                if (p[0] == 2) pieces++;
            }
            if (pieces > 0 && pieces < 4) torn++;
        }
        // larger writes do tear, at 4 KiB boundaries
        assertTrue(torn > 0);
    }

    @Test
    void flush_coversOnlyWritesCompletedBeforeItWasSubmitted() throws Exception {
        // slow requests: the write is still in flight when the flush is submitted
        MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 8,
                FaultPlan.none().latency(Duration.ofMillis(50), Duration.ZERO), 3, new SimpleMeterRegistry());
        byte[] a = filled(4096, (byte) 0xAA);
        CompletableFuture<IoCompletion> w = dev.submit(IoRequest.write(0, ByteBuffer.wrap(a)));
        CompletableFuture<IoCompletion> f = dev.submit(IoRequest.flush());
        w.get();
        f.get();
        assertArrayEquals(new byte[4096], Arrays.copyOf(dev.durableSnapshot(), 4096),
                "a flush submitted before the write completed must not make it durable");
        dev.flush();
        assertArrayEquals(a, Arrays.copyOf(dev.durableSnapshot(), 4096));
        dev.close();
    }

    @Test
    void injectedEio_onNthRequest_surfacesWithOffsetLengthErrno() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 8, FaultPlan.none().failNth(3), 1, registry);
        List<IoRequest> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) batch.add(IoRequest.write(i * 8192L, ByteBuffer.allocate(4096)));
        IoBatch b = dev.submit(batch);
        DeviceIoException e = assertThrows(DeviceIoException.class, b::await);
        assertEquals(2 * 8192L, e.offset());
        assertEquals(4096, e.length());
        assertEquals(Errno.EIO, e.errno());
        for (int i = 0; i < 5; i++) {
            assertEquals(i == 2, b.futures().get(i).isCompletedExceptionally(), "request " + i);
        }
        assertEquals(1.0, registry.get(DeviceMetrics.ERRORS).tag("errno", "5").counter().count());
        dev.close();
    }

    @Test
    void injectedEio_inRange_everyFailureReported() throws Exception {
        MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 4,
                FaultPlan.none().failRange(100_000, 200_000, true, true), 1, new SimpleMeterRegistry());
        List<IoRequest> batch = new ArrayList<>();
        for (long off = 0; off < 300_000; off += 16384) batch.add(IoRequest.write(off, ByteBuffer.allocate(16384)));
        IoBatch b = dev.submit(batch);
        DeviceIoException e = assertThrows(DeviceIoException.class, b::await);
        long failedCount = b.futures().stream().filter(CompletableFuture::isCompletedExceptionally).count();
        // writes overlapping [100000, 200000): those starting at 98304 .. 196608
        assertEquals(7, failedCount);
        assertEquals(failedCount - 1, e.getSuppressed().length, "no failure may be dropped");
        assertEquals(98304, e.offset());
        DeviceIoException r = assertThrows(DeviceIoException.class, () -> dev.read(150_000, ByteBuffer.allocate(10)));
        assertEquals(150_000, r.offset());
        assertEquals(10, r.length());
        dev.close();
    }

    @Test
    void failFromNth_everyLaterRequestFails_recordedInSubmitOrder() throws Exception {
        MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 8, FaultPlan.none().failFromNth(3), 1,
                new SimpleMeterRegistry()).recordRequests();
        List<IoRequest> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) batch.add(IoRequest.write(i * 8192L, ByteBuffer.allocate(4096)));
        IoBatch b = dev.submit(batch);
        assertThrows(DeviceIoException.class, b::await);
        for (int i = 0; i < 5; i++) {
            assertEquals(i >= 2, b.futures().get(i).isCompletedExceptionally(), "request " + i);
        }
        assertThrows(DeviceIoException.class, dev::flush);
        List<MemoryBlockDevice.Submitted> log = dev.submittedRequests();
        assertEquals(6, log.size());
        assertEquals(new MemoryBlockDevice.Submitted(2, IoRequest.Op.WRITE, 8192, 4096), log.get(1));
        assertEquals(IoRequest.Op.FLUSH, log.get(5).op());
        dev.close();
    }

    @Test
    void readPastEnd_failsWithPlace_neverZeros() throws Exception {
        MemoryBlockDevice dev = MemoryBlockDevice.create(4096);
        DeviceIoException e = assertThrows(DeviceIoException.class, () -> dev.read(2048, ByteBuffer.allocate(4096)));
        assertEquals(2048, e.offset());
        assertEquals(4096, e.length());
        assertEquals(Errno.ENXIO, e.errno());
        dev.close();
    }

    @Test
    void queueFull_submitBlocksUntilARequestCompletes() throws Exception {
        MemoryBlockDevice dev = MemoryBlockDevice.create(new byte[SIZE], 4,
                FaultPlan.none().latency(Duration.ofMillis(300), Duration.ZERO), 1, new SimpleMeterRegistry());
        for (int i = 0; i < 4; i++) dev.submit(IoRequest.write(i * 4096L, ByteBuffer.allocate(4096)));
        assertEquals(4, dev.inFlight());
        CompletableFuture<Long> fifthSubmitted = CompletableFuture.supplyAsync(() -> {
            dev.submit(IoRequest.write(65536, ByteBuffer.allocate(4096)));
            return System.nanoTime();
        });
        long start = System.nanoTime();
        Thread.sleep(100);
        assertFalse(fifthSubmitted.isDone(), "the fifth submit must wait while 4 of 4 are in flight");
        assertTrue(dev.inFlight() <= 4);
        long waited = fifthSubmitted.get(5, TimeUnit.SECONDS) - start;
        assertTrue(waited >= TimeUnit.MILLISECONDS.toNanos(200), "waited only " + waited / 1000 + " us");
        // a batch far larger than the queue must not wait on itself
        List<IoRequest> big = new ArrayList<>();
        for (int i = 0; i < 12; i++) big.add(IoRequest.write(i * 4096L, ByteBuffer.allocate(4096)));
        dev.submit(big).await(10, TimeUnit.SECONDS);
        dev.close();
        assertEquals(0, dev.inFlight());
    }

    @Test
    void powerCut_failsLaterRequests() throws Exception {
        MemoryBlockDevice dev = MemoryBlockDevice.create(SIZE);
        dev.powerCut(1);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> dev.submit(IoRequest.read(0, ByteBuffer.allocate(512))).get());
        assertEquals(Errno.EIO, ((DeviceIoException) e.getCause()).errno());
        dev.close();
    }

    private static byte[] filled(int n, byte v) {
        byte[] b = new byte[n];
        Arrays.fill(b, v);
        return b;
    }
}
