package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** Native AIO specifics: O_DIRECT and its fallback, short reads, clean shutdown, no leaks. */
class AioBlockDeviceTest {
    @TempDir
    Path dir;

    @BeforeEach
    void needAio() {
        Prereq.require(AioBlockDevice.available(), "native AIO (Linux, libaio.so.1 from libaio1) is not available");
    }

    private static DeviceOptions aio(int qd) {
        return DeviceOptions.defaults().withBackend(Backend.AIO).withQueueDepth(qd)
                .withRegistry(new SimpleMeterRegistry());
    }

    private static Path file(Path dir, String name, int size) throws IOException {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return f;
    }

    @Test
    void ext4File_usesODirect_andRejectsMisalignedWrites() throws Exception {
        Path f = file(dir, "a.img", 1 << 20);
        try (BlockDevice dev = BlockDevice.open(f, aio(8))) {
            assertTrue(dev.directIo(), "O_DIRECT should work on " + Files.getFileStore(f).type());
            assertEquals("aio", dev.backend());
            DeviceIoException e = assertThrows(DeviceIoException.class,
                    () -> dev.write(100, ByteBuffer.allocate(4096)));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(100, e.offset());
        }
    }

    @Test
    void shortReadAtEnd_isAnError_notZeros() throws Exception {
        Path f = file(dir, "short.img", 1 << 20);
        try (BlockDevice dev = BlockDevice.open(f, aio(4))) {
            // shrink the file under the open device: the kernel now returns fewer bytes than asked for
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength((1 << 20) - 8192);
            }
            DeviceIoException e = assertThrows(DeviceIoException.class,
                    () -> dev.read((1 << 20) - 16384, ByteBuffer.allocate(16384)));
            assertEquals(Errno.EIO, e.errno());
            assertEquals((1 << 20) - 16384, e.offset());
            assertEquals(16384, e.length());
            assertTrue(e.getMessage().contains("short read: 8192 of 16384"), e.getMessage());
        }
    }

    @Test
    void tmpfs_opensAndRoundTrips_withOrWithoutODirect() throws Exception {
        Path shm = Path.of("/dev/shm");
        Prereq.require(Files.isDirectory(shm) && Files.getFileStore(shm).type().equals("tmpfs"), "no tmpfs at /dev/shm");
        Path d = Files.createTempDirectory(shm, "jbtrfs-device");
        try {
            roundTrip(file(d, "t.img", 1 << 20));
        } finally {
            try (var s = Files.list(d)) {
                for (Path p : (Iterable<Path>) s::iterator) Files.delete(p);
            }
            Files.delete(d);
        }
    }

    @Test
    void ramfsRefusesODirect_fallsBackToBuffered() throws Exception {
        Path mnt = Files.createDirectories(dir.resolve("ramfs"));
        Prereq.requireRoot("to mount ramfs");
        Shell.Result mount = Shell.attempt(List.of("mount", "-t", "ramfs", "ramfs", mnt.toString()));
        Prereq.require(mount.exitCode() == 0, "mount -t ramfs failed: " + mount.output().trim());
        try {
            Path f = file(mnt, "r.img", 1 << 20);
            try (BlockDevice dev = BlockDevice.open(f, aio(8))) {
                assertFalse(dev.directIo(), "ramfs refuses O_DIRECT, the device must fall back to buffered");
                assertEquals(512, dev.logicalBlockSize());
            }
            roundTrip(f);
        } finally {
            Shell.run(List.of("umount", mnt.toString()));
        }
    }

    private static void roundTrip(Path f) throws Exception {
        try (BlockDevice dev = BlockDevice.open(f, aio(8))) {
            System.out.println(f + ": O_DIRECT " + dev.directIo());
            byte[] data = new byte[65536];
            new Random(5).nextBytes(data);
            dev.write(8192, ByteBuffer.wrap(data));
            dev.flush();
            ByteBuffer back = ByteBuffer.allocate(data.length);
            dev.read(8192, back);
            assertArrayEquals(data, back.array());
        }
    }

    @Test
    void closeWithRequestsInFlight_completesThemAndFreesEverything() throws Exception {
        Path f = file(dir, "c.img", 4 << 20);
        long nativeBefore = NativeMemory.outstanding();
        BlockDevice dev = BlockDevice.open(f, aio(32));
        List<IoRequest> batch = new ArrayList<>();
        for (int i = 0; i < 200; i++) batch.add(IoRequest.write(i * 16384L, ByteBuffer.allocate(16384)));
        Thread submitter = new Thread(() -> dev.submit(batch));
        submitter.start();
        while (dev.inFlight() == 0) Thread.onSpinWait();
        dev.close();
        submitter.join();
        assertEquals(0, dev.inFlight());
        assertEquals(0, AioBlockDevice.liveContexts());
        assertEquals(nativeBefore, NativeMemory.outstanding());
        // whatever was accepted before close completed; nothing is left hanging
        IoBatch after = dev.submit(List.of(IoRequest.read(0, ByteBuffer.allocate(4096))));
        DeviceIoException e = assertThrows(DeviceIoException.class, after::await);
        assertEquals(Errno.ESHUTDOWN, e.errno());
    }

    @Test
    void openCloseLoop_leaksNoContextAndNoNativeMemory() throws Exception {
        Path f = file(dir, "l.img", 1 << 20);
        long aioBefore = aioNr();
        long nativeBefore = NativeMemory.outstanding();
        for (int i = 0; i < 100; i++) {
            try (BlockDevice dev = BlockDevice.open(f, aio(64))) {
                dev.submit(List.of(IoRequest.write(0, ByteBuffer.allocate(4096)),
                        IoRequest.read(4096, ByteBuffer.allocate(4096)), IoRequest.flush()));
            }
        }
        assertEquals(0, AioBlockDevice.liveContexts());
        assertEquals(nativeBefore, NativeMemory.outstanding());
        // system-wide counter: a leak of 100 contexts would add at least 100 * 64 events
        long grown = aioNr() - aioBefore;
        assertTrue(grown < 20 * 64, "/proc/sys/fs/aio-nr grew by " + grown);
    }

    private static long aioNr() throws IOException {
        return Long.parseLong(Files.readString(Path.of("/proc/sys/fs/aio-nr")).trim());
    }

    @Test
    void readOnly_refusesWritesWithEbadf() throws Exception {
        Path f = file(dir, "ro.img", 1 << 20);
        try (BlockDevice dev = BlockDevice.open(f, aio(4).withWritable(false))) {
            DeviceIoException e = assertThrows(DeviceIoException.class, () -> dev.write(0, ByteBuffer.allocate(4096)));
            assertEquals(Errno.EBADF, e.errno());
            dev.read(0, ByteBuffer.allocate(4096));
        }
    }
}
