package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** A real block device (a loop device over a file): size from BLKGETSIZE64, sector size from BLKSSZGET. */
class LoopDeviceTest {
    private static final int SIZE = 24 << 20;

    @TempDir
    Path dir;
    private Path loop;

    @BeforeEach
    void attach() throws Exception {
        Prereq.requireRoot("for losetup");
        Path backing = dir.resolve("backing.img");
        try (RandomAccessFile raf = new RandomAccessFile(backing.toFile(), "rw")) {
            raf.setLength(SIZE);
        }
        Shell.Result r = Shell.exec(new ProcessBuilder("losetup", "--find", "--show", backing.toString()), null,
                Shell.TIMEOUT);
        String out = r.stdout().trim();
        Prereq.require(r.exitCode() == 0 && out.startsWith("/dev/loop"), "losetup failed: " + r.stderr());
        loop = Path.of(out);
    }

    @AfterEach
    void detach() throws Exception {
        if (loop != null) Shell.run(List.of("losetup", "-d", loop.toString()));
    }

    @Test
    void openReadOnly_andIoctl_knowBlockDeviceSize() throws IOException {
        try (FileChannel ch = FileChannel.open(loop)) {
            System.out.println(loop + ": FileChannel.size() = " + ch.size());
        }
        assertEquals(SIZE, BlockDeviceSize.of(loop), "BLKGETSIZE64");
        try (BlockDevice ro = BlockDevice.openReadOnly(loop)) {
            assertEquals(SIZE, ro.size());
        }
    }

    @Test
    void everyBackend_sizeSectorAndRoundTrip() throws IOException {
        byte[] data = new byte[1 << 20];
        new Random(9).nextBytes(data);
        for (Backend b : new Backend[] {Backend.AIO, Backend.NIO}) {
            if (b == Backend.AIO && !AioBlockDevice.available()) continue;
            try (BlockDevice dev = BlockDevice.open(loop, DeviceOptions.defaults().withBackend(b)
                    .withRegistry(new SimpleMeterRegistry()))) {
                assertEquals(SIZE, dev.size(), b + " size");
                assertEquals(512, dev.logicalBlockSize(), b + " logical block size");
                data[0] = (byte) b.ordinal();
                dev.write(SIZE - data.length, ByteBuffer.wrap(data));
                dev.flush();
                ByteBuffer back = ByteBuffer.allocate(data.length);
                dev.read(SIZE - data.length, back);
                assertArrayEquals(data, back.array(), b.toString());
                // the last sector is readable, one past it is not
                dev.read(SIZE - 512, ByteBuffer.allocate(512));
                DeviceIoException e = Assertions.assertThrows(DeviceIoException.class,
                        () -> dev.read(SIZE - 512, ByteBuffer.allocate(1024)));
                assertEquals(Errno.ENXIO, e.errno());
            }
        }
    }
}
