package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoBatch;
import jbtrfs.device.IoCompletion;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * fsyncs from several threads at once, beside writes: an fsync holds the locks only while it builds its log, so
 * other requests go on during its flushes, and syncs sealed meanwhile are written together. After a power cut
 * every fsync'd byte must be there, in our replay and in the kernel's replay of the same image.
 */
class FsyncConcurrencyTest {
    private static final int FSYNCERS = 4;
    private static final int ROUNDS = 25;
    /** How long a request may wait before the test calls it stuck (only a failing run waits this long). */
    private static final long STUCK_SECONDS = 60;

    @TempDir
    Path dir;

    @Test
    void fsyncWaitingForItsFlush_writesReadsAndCommitsOfOthersGoOn() throws Exception {
        HeldFlush dev = new HeldFlush(MemoryBlockDevice.create(Files.readAllBytes(Images.mkfs(dir, null, 160)), 64,
                FaultPlan.none(), 1, new SimpleMeterRegistry()));
        ExecutorService pool = Executors.newCachedThreadPool();
        try (Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            Random rnd = new Random(26);
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            InodeId g = ops.mknod(ops.root(), "g", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(bytes(rnd, 100_000)));
            ops.sync();
            byte[] fsynced = bytes(rnd, 8192);
            ops.write(f, 4096, ByteBuffer.wrap(fsynced));

            dev.hold();
            Future<?> fsync = pool.submit(() -> { ops.fsync(f, false); return null; });
            assertTrue(dev.reached.await(STUCK_SECONDS, TimeUnit.SECONDS), "the fsync never flushed");
            byte[] other = bytes(rnd, 30_000);
            Future<?> others = pool.submit(() -> {
                ops.write(g, 0, ByteBuffer.wrap(other));
                byte[] back = new byte[other.length];
                ops.read(g, 0, ByteBuffer.wrap(back));
                assertArrayEquals(other, back, "g read back while f's fsync flushes");
                ops.mkdir(ops.root(), "d", 0755, 0, 0);
                return null;
            });
            others.get(STUCK_SECONDS, TimeUnit.SECONDS); // before the change this waited for the flush: stuck
            assertTrue(!fsync.isDone(), "the fsync returned before its flush");
            // a commit now waits for the log sync in flight and covers what it sealed
            Future<?> commit = pool.submit(() -> { ops.sync(); return null; });
            dev.release();
            fsync.get(STUCK_SECONDS, TimeUnit.SECONDS);
            commit.get(STUCK_SECONDS, TimeUnit.SECONDS);
            byte[] back = new byte[8192];
            ops.read(f, 4096, ByteBuffer.wrap(back));
            assertArrayEquals(fsynced, back);
            assertEquals(Map.of(), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
        } finally {
            dev.release();
            pool.shutdownNow();
        }
    }

    @Test
    void fsyncsOfFourThreadsBesideWritesAndCommits_powerCut_ourAndKernelReplayHaveEveryFsyncedByte_checkClean()
            throws Exception {
        Images.requireKernelBtrfs();
        MemoryBlockDevice dev = PowerCuts.memoryDevice(Images.mkfs(dir, null, 160));
        byte[][] fsynced = new byte[FSYNCERS][];
        ExecutorService pool = Executors.newFixedThreadPool(FSYNCERS + 1);
        try {
            // never closed: the power goes under it
            Filesystem fs = PowerCuts.openOrNull(dev);
            FsOperations ops = fs.operations();
            InodeId[] files = new InodeId[FSYNCERS];
            Random setup = new Random(4);
            for (int i = 0; i < FSYNCERS; i++) {
                files[i] = ops.mknod(ops.root(), "f" + i, Stat.S_IFREG | 0644, 0, 0, 0);
                fsynced[i] = bytes(setup, 40_000 + setup.nextInt(60_000));
                ops.write(files[i], 0, ByteBuffer.wrap(fsynced[i]));
            }
            InodeId unsynced = ops.mknod(ops.root(), "w", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.sync();
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < FSYNCERS; t++) {
                int i = t;
                work.add(pool.submit(() -> {
                    start.await();
                    Random rnd = new Random(100 + i);
                    byte[] model = fsynced[i];
                    for (int r = 0; r < ROUNDS; r++) {
                        model = change(ops, files[i], model, rnd);
                        ops.fsync(files[i], rnd.nextBoolean());
                        fsynced[i] = model;
                    }
                    return null;
                }));
            }
            // beside them: writes that no fsync covers, and commits now and then
            work.add(pool.submit(() -> {
                start.await();
                Random rnd = new Random(99);
                for (int r = 0; r < 40; r++) {
                    ops.write(unsynced, rnd.nextInt(200_000), ByteBuffer.wrap(bytes(rnd, 20_000)));
                    if (r % 15 == 14) ops.sync();
                }
                return null;
            }));
            start.countDown();
            for (Future<?> w : work) w.get(5, TimeUnit.MINUTES);
            assertEquals(Map.of(), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
            // what no fsync covered is not expected after the cut
            for (int i = 0; i < FSYNCERS; i++) ops.write(files[i], 0, ByteBuffer.wrap(new byte[5000]));
            Map<String, byte[]> want = new TreeMap<>();
            for (int i = 0; i < FSYNCERS; i++) want.put("f" + i, fsynced[i]);
            PowerCuts.assertReplaysShow(dev, 26, dir, want);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One change of a file as its model says: an overwrite, an append or a truncation. Returns the new model. */
    private static byte[] change(FsOperations ops, InodeId f, byte[] model, Random rnd) throws Exception {
        switch (rnd.nextInt(4)) {
            case 0 -> {
                byte[] tail = bytes(rnd, 1 + rnd.nextInt(12_000));
                ops.write(f, model.length, ByteBuffer.wrap(tail));
                byte[] out = Arrays.copyOf(model, model.length + tail.length);
                System.arraycopy(tail, 0, out, model.length, tail.length);
                return out;
            }
            case 1 -> {
                int size = model.length / 2 + 1;
                ops.truncate(f, size);
                return Arrays.copyOf(model, size);
            }
            default -> {
                byte[] b = bytes(rnd, 4096 * (1 + rnd.nextInt(4)));
                int off = rnd.nextInt(model.length + 1);
                ops.write(f, off, ByteBuffer.wrap(b));
                byte[] out = Arrays.copyOf(model, Math.max(model.length, off + b.length));
                System.arraycopy(b, 0, out, off, b.length);
                return out;
            }
        }
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** The in-memory device whose next flush, once {@link #hold}, waits until {@link #release}. */
    private static final class HeldFlush implements BlockDevice {
        private final MemoryBlockDevice dev;
        final CountDownLatch reached = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);
        private volatile boolean held;

        HeldFlush(MemoryBlockDevice dev) { this.dev = dev; }

        void hold() { held = true; }

        void release() { released.countDown(); }

        @Override
        public CompletableFuture<IoCompletion> submit(IoRequest request) {
            if (request.op() == IoRequest.Op.FLUSH && held) {
                held = false;
                reached.countDown();
                try {
                    if (!released.await(STUCK_SECONDS, TimeUnit.SECONDS)) throw new IllegalStateException("held");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return dev.submit(request);
        }

        @Override
        public IoBatch submit(List<IoRequest> requests) { return dev.submit(requests); }

        @Override
        public long size() { return dev.size(); }

        @Override
        public int logicalBlockSize() { return dev.logicalBlockSize(); }

        @Override
        public boolean directIo() { return dev.directIo(); }

        @Override
        public boolean writable() { return dev.writable(); }

        @Override
        public String backend() { return dev.backend(); }

        @Override
        public int queueDepth() { return dev.queueDepth(); }

        @Override
        public int inFlight() { return dev.inFlight(); }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException { dev.read(offset, dst); }

        @Override
        public void close() throws IOException { dev.close(); }
    }
}
