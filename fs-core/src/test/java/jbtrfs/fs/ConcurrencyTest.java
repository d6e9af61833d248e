package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;

/** Many threads at once: reads go on while a commit writes, and concurrent changes leave a clean image. */
class ConcurrencyTest {
    @TempDir
    Path dir;

    @Test
    void reads_runWhileACommitWaitsOnTheDevice() throws Exception {
        byte[] image = Files.readAllBytes(Images.mkfs(dir, null, 160));
        // every request takes 150 ms: a commit (writes, flush, superblocks, flush) takes at least 600 ms
        MemoryBlockDevice dev = MemoryBlockDevice.create(image, 64,
                FaultPlan.none().latency(Duration.ofMillis(150), Duration.ZERO), 1, new SimpleMeterRegistry());
        try (Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap("x".repeat(100).getBytes()));
            Thread commit = new Thread(() -> {
                try {
                    ops.sync();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            commit.start();
            while (dev.inFlight() == 0 && commit.isAlive()) Thread.onSpinWait();
            int reads = 0;
            while (commit.isAlive() && reads < 50) {
                assertEquals(100, ops.stat(ops.lookup(ops.root(), "f")).size());
                reads++;
            }
            assertTrue(commit.isAlive(), "the commit finished before the reads did: they did not run beside it");
            commit.join();
            assertEquals(50, reads);
        }
    }

    @Test
    void writersReadersAndCommitsAtOnce_everyFileRight_checkClean() throws Exception {
        Path image = Images.mkfs(dir, null, 512);
        int threads = 4;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
            AtomicBoolean done = new AtomicBoolean();
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                work.add(pool.submit(() -> {
                    Random rnd = new Random(id);
                    InodeId d = ops.mkdir(ops.root(), "t" + id, 0755, 0, 0);
                    for (int i = 0; i < 300; i++) {
                        String name = "f" + rnd.nextInt(40);
                        byte[] data = new byte[rnd.nextInt(20_000)];
                        rnd.nextBytes(data);
                        InodeId f;
                        try {
                            f = ops.lookup(d, name);
                            ops.truncate(f, 0);
                        } catch (FsException e) {
                            if (e.errno() != Errno.ENOENT) throw e;
                            f = ops.mknod(d, name, Stat.S_IFREG | 0644, 0, 0, 0);
                        }
                        ops.write(f, 0, ByteBuffer.wrap(data));
                        byte[] back = new byte[data.length];
                        ops.read(f, 0, ByteBuffer.wrap(back));
                        assertArrayEquals(data, back, "thread " + id + " " + name);
                        if (rnd.nextInt(5) == 0) ops.unlink(d, name);
                    }
                    return null;
                }));
            }
            Future<?> syncer = pool.submit(() -> {
                while (!done.get()) {
                    ops.sync();
                    Thread.sleep(5);
                }
                return null;
            });
            for (Future<?> w : work) w.get();
            done.set(true);
            syncer.get();
            pool.shutdown();
            assertTrue(fs.commits() > 1, "the syncing thread never committed");
        }
        BtrfsCheck.assertCleanWithData(image, "after concurrent changes");
    }
}
