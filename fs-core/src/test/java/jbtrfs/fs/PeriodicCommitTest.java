package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * An unmount that meets the periodic commit in the middle of its I/O waits for it: it must not interrupt it (an interrupted commit aborts, and the unmount then loses every change since the last one).
 */
class PeriodicCommitTest {
    @TempDir
    Path dir;

    @Test
    void closeDuringAPeriodicCommit_letsItFinish() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        // slow requests, so the periodic commit is still writing when close() comes
        FaultPlan slow = FaultPlan.none().latency(Duration.ofMillis(150), Duration.ZERO);
        MemoryBlockDevice dev = MemoryBlockDevice.create(image, 64, slow, 1, new SimpleMeterRegistry());
        Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(1));
        FsOperations ops = fs.operations();
        byte[] first = filled(70_000, 1);
        ops.write(ops.mknod(ops.root(), "before", Stat.S_IFREG | 0644, 0, 0, 0), 0, ByteBuffer.wrap(first));
        Thread.sleep(400); // the write's own data requests are done; the timer fires a second after the open
        long idle = dev.requestsSubmitted();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (dev.requestsSubmitted() == idle && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(dev.requestsSubmitted() > idle, "no periodic commit started within 20 s");
        fs.close(); // throws when the commit was interrupted and aborted

        Filesystem again = Filesystem.open(PowerCuts.memoryDevice(dev.snapshot()), MountOptions.readOnlyDefaults());
        try {
            FsOperations ro = again.operations();
            assertTrue(Arrays.equals(first, read(ro, "before", first.length)), "before");
        } finally {
            again.close();
        }
    }

    private static byte[] filled(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(FsOperations ops, String name, int length) throws Exception {
        InodeId id = ops.lookup(ops.root(), name);
        assertEquals(length, ops.stat(id).size());
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ops.read(id, b.position(), b) <= 0) break;
        }
        return b.array();
    }
}
