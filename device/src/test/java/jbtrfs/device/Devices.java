package jbtrfs.device;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

import io.micrometer.core.instrument.MeterRegistry;
import jbtrfs.testing.Prereq;

/** Opens a device of each backend over a fresh file (or memory) for tests. */
final class Devices {
    static final String[] ALL = {"aio", "nio", "memory"};

    private Devices() {
    }

    static BlockDevice open(String kind, Path dir, int size, int queueDepth, MeterRegistry registry)
            throws IOException {
        if (kind.equals("memory")) {
            return MemoryBlockDevice.create(new byte[size], queueDepth, FaultPlan.none(), 1, registry);
        }
        Path file = dir.resolve(kind + ".img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        }
        Backend backend = Backend.parse(kind);
        if (backend == Backend.AIO) {
            Prereq.require(AioBlockDevice.available(), "native AIO (libaio.so.1) is not available");
        }
        return BlockDevice.open(file, DeviceOptions.defaults().withBackend(backend).withQueueDepth(queueDepth)
                .withRegistry(registry));
    }
}
