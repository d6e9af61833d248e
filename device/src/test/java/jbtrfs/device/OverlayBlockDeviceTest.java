package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** The overlay: writes in memory, reads merged over the lower device, which is only ever read. */
class OverlayBlockDeviceTest {
    /** Not a multiple of the overlay's page: the last page is short. */
    private static final int SIZE = (1 << 20) + 1000;

    @TempDir
    Path dir;

    @Test
    void randomWrites_readBackEqualModel_lowerNeverWritten() throws Exception {
        Random random = new Random(7);
        byte[] model = new byte[SIZE];
        random.nextBytes(model);
        MemoryBlockDevice lower = MemoryBlockDevice.create(model, 8, FaultPlan.none(), 1, new SimpleMeterRegistry())
                .recordRequests();
        byte[] original = model.clone();
        try (OverlayBlockDevice overlay = OverlayBlockDevice.over(lower)) {
            for (int round = 0; round < 300; round++) {
                int len = 1 + random.nextInt(3 * OverlayBlockDevice.PAGE);
                int off = random.nextInt(SIZE - len + 1);
                if (random.nextBoolean()) {
                    byte[] data = new byte[len];
                    if (random.nextInt(4) > 0) random.nextBytes(data); // zeros too must cover the lower bytes
                    List<IoRequest> batch = List.of(IoRequest.write(off, ByteBuffer.wrap(data)), IoRequest.flush());
                    overlay.submit(batch).await();
                    System.arraycopy(data, 0, model, off, len);
                } else {
                    ByteBuffer got = ByteBuffer.allocate(len + 10).position(5).limit(len + 5);
                    if (random.nextBoolean()) overlay.read(off, got); else overlay.readBulk(off, got);
                    assertEquals(len + 5, got.position(), "a read consumes its buffer, as every device's");
                    byte[] want = new byte[len];
                    System.arraycopy(model, off, want, 0, len);
                    byte[] have = new byte[len];
                    got.get(5, have);
                    assertArrayEquals(want, have, "read " + off + "+" + len + " in round " + round);
                }
            }
            ByteBuffer all = ByteBuffer.allocate(SIZE);
            overlay.read(0, all);
            assertArrayEquals(model, all.array());
            assertTrue(overlay.heldBytes() > 0 && overlay.heldBytes() < 2L * SIZE, "pages held: " + overlay.heldBytes());
        }
        assertArrayEquals(original, lower.snapshot(), "the lower device's bytes changed");
        assertTrue(lower.submittedRequests().stream().allMatch(r -> r.op() == IoRequest.Op.READ),
                "the lower device got a request other than a read");
    }

    @Test
    void overReadOnlyFile_writesAndFlushes_fileUnchanged() throws Exception {
        Path file = dir.resolve("image");
        byte[] content = new byte[SIZE];
        new Random(3).nextBytes(content);
        Files.write(file, content);
        byte[] before = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        try (OverlayBlockDevice overlay = OverlayBlockDevice.over(BlockDevice.openReadOnly(file))) {
            byte[] data = new byte[3 * OverlayBlockDevice.PAGE];
            new Random(4).nextBytes(data);
            overlay.write(SIZE - data.length, ByteBuffer.wrap(data));
            overlay.flush();
            ByteBuffer back = ByteBuffer.allocate(data.length);
            overlay.read(SIZE - data.length, back);
            assertArrayEquals(data, back.array());
        }
        assertArrayEquals(before, MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @Test
    void requestPastTheEnd_failsWithEnxio() throws Exception {
        try (OverlayBlockDevice overlay = OverlayBlockDevice.over(MemoryBlockDevice.create(SIZE))) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> overlay.submit(
                    IoRequest.write(SIZE - 10, ByteBuffer.allocate(20))).get());
            assertEquals(Errno.ENXIO, ((DeviceIoException) e.getCause()).errno());
            DeviceIoException read = assertThrows(DeviceIoException.class,
                    () -> overlay.read(SIZE, ByteBuffer.allocate(1)));
            assertEquals(Errno.ENXIO, read.errno());
            assertEquals(0, overlay.heldBytes(), "a refused write holds nothing");
        }
    }

    @Test
    void close_closesTheLowerDevice() throws Exception {
        MemoryBlockDevice lower = MemoryBlockDevice.create(SIZE);
        OverlayBlockDevice overlay = OverlayBlockDevice.over(lower);
        overlay.write(0, ByteBuffer.allocate(10));
        overlay.close();
        DeviceIoException e = assertThrows(DeviceIoException.class, () -> lower.read(0, ByteBuffer.allocate(1)));
        assertEquals(Errno.ESHUTDOWN, e.errno());
        assertEquals(Errno.ESHUTDOWN, assertThrows(DeviceIoException.class,
                () -> overlay.write(0, ByteBuffer.allocate(1))).errno());
        List<IoRequest> none = new ArrayList<>();
        assertEquals(0, overlay.submit(none).size());
    }
}
