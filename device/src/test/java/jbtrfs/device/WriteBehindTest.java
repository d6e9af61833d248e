package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** Writes that return before they are done: what reads, later writes and drains see of them. */
class WriteBehindTest {
    private static final int SIZE = 4 << 20;
    private static final int BIG = WriteBehind.SMALL_WRITE;

    private static MemoryBlockDevice device(FaultPlan plan, long seed) {
        return MemoryBlockDevice.create(new byte[SIZE], 32, plan, seed, new SimpleMeterRegistry());
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static void write(WriteBehind w, long offset, byte[] data) throws IOException {
        w.write(List.of(IoRequest.write(offset, ByteBuffer.wrap(data))));
    }

    private static byte[] read(BlockDevice dev, WriteBehind w, long offset, int length) throws IOException {
        w.awaitRange(offset, length);
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(offset, b);
        return b.array();
    }

    @Test
    void returnsBeforeTheWriteIsDone_andAReadOfTheRangeWaitsForIt() throws Exception {
        try (MemoryBlockDevice dev = device(FaultPlan.none().latency(Duration.ofMillis(300), Duration.ZERO), 1)) {
            WriteBehind w = new WriteBehind(dev, 64L << 20);
            write(w, 0, filled(BIG, 7));
            // the device takes 300 ms per request: the write cannot be done when write() has returned
            assertEquals(BIG, w.bytesInFlight());
            assertArrayEquals(filled(BIG - 8192, 7), read(dev, w, 4096, BIG - 8192),
                    "a read of part of the range waits for the write");
            assertEquals(0, w.bytesInFlight());
        }
    }

    /** A device that takes its writes' bytes only when {@link #complete} runs: as late as a real engine may. */
    private static final class LateDevice implements BlockDevice {
        final byte[] medium = new byte[SIZE];
        private final List<IoRequest> held = new ArrayList<>();
        private final List<CompletableFuture<IoCompletion>> futures = new ArrayList<>();

        @Override
        public long size() { return SIZE; }
        @Override
        public int logicalBlockSize() { return 512; }
        @Override
        public boolean directIo() { return false; }
        @Override
        public boolean writable() { return true; }
        @Override
        public String backend() { return "late"; }
        @Override
        public int queueDepth() { return 64; }
        @Override
        public synchronized int inFlight() { return held.size(); }
        @Override
        public void read(long offset, ByteBuffer dst) { dst.put(medium, (int) offset, dst.remaining()); }
        @Override
        public IoBatch submit(List<IoRequest> requests) { throw new UnsupportedOperationException(); }
        @Override
        public void close() { }

        @Override
        public synchronized CompletableFuture<IoCompletion> submit(IoRequest r) {
            CompletableFuture<IoCompletion> f = new CompletableFuture<>();
            held.add(r);
            futures.add(f);
            return f;
        }

        void complete() {
            List<IoRequest> rs;
            List<CompletableFuture<IoCompletion>> fs;
            synchronized (this) {
                rs = List.copyOf(held);
                fs = List.copyOf(futures);
                held.clear();
                futures.clear();
            }
            for (int i = 0; i < rs.size(); i++) {
                IoRequest r = rs.get(i);
                r.buffer().duplicate().get(medium, (int) r.offset(), r.length());
                fs.get(i).complete(new IoCompletion(r, r.length(), 0));
            }
        }
    }

    @Test
    void theCallersBufferIsFreeOnReturn_theDeviceWritesWhatItHeldThen() throws Exception {
        LateDevice dev = new LateDevice();
        WriteBehind w = new WriteBehind(dev, 64L << 20);
        byte[] data = filled(BIG, 7);
        ByteBuffer direct = ByteBuffer.allocateDirect(BIG).put(filled(BIG, 8)).flip();
        w.write(List.of(IoRequest.write(0, ByteBuffer.wrap(data)), IoRequest.write(BIG, direct)));
        // reused at once, before the device has taken a byte
        Arrays.fill(data, (byte) 9);
        direct.clear().put(filled(BIG, 9));
        assertEquals(2L * BIG, w.bytesInFlight());
        dev.complete();
        w.drain();
        assertArrayEquals(filled(BIG, 7), Arrays.copyOfRange(dev.medium, 0, BIG));
        assertArrayEquals(filled(BIG, 8), Arrays.copyOfRange(dev.medium, BIG, 2 * BIG));
    }

    @Test
    void overlappingWritesLandInTheOrderGiven_thoughTheDeviceReorders() throws Exception {
        // jitter of up to 20 ms reorders requests in the device; each later write overlaps the one before
        for (long seed = 0; seed < 5; seed++) {
            try (MemoryBlockDevice dev = device(FaultPlan.none().latency(Duration.ZERO, Duration.ofMillis(20)), seed)) {
                WriteBehind w = new WriteBehind(dev, 64L << 20);
                Random random = new Random(seed);
                byte[] model = new byte[1 << 20];
                for (int i = 1; i <= 40; i++) {
                    int length = BIG + 512 * random.nextInt(64);
                    int offset = 512 * random.nextInt((model.length - length) / 512);
                    byte[] data = filled(length, i);
                    write(w, offset, data);
                    System.arraycopy(data, 0, model, offset, length);
                }
                w.drain();
                assertArrayEquals(model, read(dev, w, 0, model.length));
            }
        }
    }

    @Test
    void smallWritesGoAtOnce_afterAnOverlappingWriteBehind() throws Exception {
        try (MemoryBlockDevice dev = device(FaultPlan.none().latency(Duration.ofMillis(100), Duration.ZERO), 2)) {
            WriteBehind w = new WriteBehind(dev, 64L << 20);
            write(w, 0, filled(BIG, 1));
            write(w, 4096, filled(4096, 2)); // waits for the first, then is done on return
            assertEquals(0, w.bytesInFlight());
            byte[] expect = filled(BIG, 1);
            Arrays.fill(expect, 4096, 8192, (byte) 2);
            assertArrayEquals(expect, read(dev, w, 0, BIG));
        }
    }

    @Test
    void inFlight_neverMoreThanTheBound() throws Exception {
        try (MemoryBlockDevice dev = device(FaultPlan.none().latency(Duration.ofMillis(5), Duration.ofMillis(5)), 3)) {
            long bound = 3L * BIG;
            WriteBehind w = new WriteBehind(dev, bound);
            long peak = 0;
            for (int i = 0; i < 40; i++) {
                write(w, (long) i * BIG, filled(BIG, i));
                peak = Math.max(peak, w.bytesInFlight());
            }
            w.drain();
            assertTrue(peak > BIG && peak <= bound, "peak in flight " + peak + " of at most " + bound);
        }
    }

    @Test
    void failedWrite_isReportedByEveryLaterDrainWriteAndReadOfItsRange() throws Exception {
        // request 2 (the second write) fails on the device
        try (MemoryBlockDevice dev = device(FaultPlan.none().failNth(2).latency(Duration.ofMillis(20), Duration.ZERO), 4)) {
            WriteBehind w = new WriteBehind(dev, 64L << 20);
            write(w, 0, filled(BIG, 1));
            write(w, BIG, filled(BIG, 2));
            IOException drained = assertThrows(IOException.class, w::drain);
            assertTrue(drained.getMessage().contains("write behind failed"), drained.getMessage());
            assertThrows(IOException.class, w::drain, "the failure stays");
            assertThrows(IOException.class, () -> write(w, 3L * BIG, filled(BIG, 3)));
            assertThrows(IOException.class, () -> read(dev, w, BIG + 4096, 4096), "never the old bytes of a lost write");
            assertArrayEquals(filled(BIG, 1), read(dev, w, 0, BIG), "the write that succeeded is there");
        }
    }
}
