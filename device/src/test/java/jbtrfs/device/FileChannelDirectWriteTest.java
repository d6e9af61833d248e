package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import com.sun.nio.file.ExtendedOpenOption;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The NIO backend's large aligned writes go around the page cache; its buffered reads still see them. */
class FileChannelDirectWriteTest {
    private static final int SIZE = 8 << 20;
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path file() throws IOException {
        Path f = dir.resolve("d.img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(SIZE);
        }
        try (FileChannel probe = FileChannel.open(f, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
            return f;
        } catch (IOException | UnsupportedOperationException e) {
            System.out.println("skipped: " + dir + " refuses O_DIRECT (" + e + ")");
            Assumptions.abort(dir + " refuses O_DIRECT");
            return null;
        }
    }

    private static BlockDevice open(Path f, boolean directIo) throws IOException {
        return BlockDevice.open(f, DeviceOptions.defaults().withBackend(Backend.NIO).withDirectIo(directIo)
                .withRegistry(new SimpleMeterRegistry()));
    }

    /** How many of this process's descriptors of {@code f} are open with O_DIRECT (from /proc/self/fdinfo). */
    private static long directDescriptors(Path f) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(f.toAbsolutePath());
                } catch (IOException e) {
                    return false;
                }
            }).filter(fd -> {
                try {
                    String info = Files.readString(Path.of("/proc/self/fdinfo", fd.getFileName().toString()));
                    String flags = info.lines().filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
                    return (Integer.parseInt(flags.substring(6).trim(), 8) & 040000) != 0;
                } catch (IOException e) {
                    return false;
                }
            }).count();
        }
    }

    private static byte[] random(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(BlockDevice d, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        d.read(offset, b);
        return b.array();
    }

    @Test
    void largeAlignedWrites_bypassTheCache_andCachedReadsOfTheRangeSeeTheNewBytes() throws Exception {
        Path f = file();
        try (BlockDevice d = open(f, true)) {
            assertEquals(1, directDescriptors(f), "the file is open O_DIRECT for writes");
            // the page cache now holds the zeros of these ranges
            read(d, 0, 3 * MIB);
            byte[] heap = random(MIB, 1);
            ByteBuffer aligned = AlignedBuffers.allocateAligned(MIB, 4096).put(random(MIB, 2)).flip();
            byte[] unaligned = random(MIB - 512, 3);
            d.submit(List.of(IoRequest.bulkWrite(0, ByteBuffer.wrap(heap)), IoRequest.bulkWrite(MIB, aligned),
                    IoRequest.bulkWrite(2L * MIB + 512, ByteBuffer.wrap(unaligned)))).await();
            assertArrayEquals(heap, read(d, 0, MIB));
            assertArrayEquals(random(MIB, 2), read(d, MIB, MIB));
            assertArrayEquals(unaligned, read(d, 2L * MIB + 512, MIB - 512));
            d.flush();
        }
        // and the file holds them, as another reader of it sees
        byte[] all = Files.readAllBytes(f);
        assertArrayEquals(random(MIB, 1), java.util.Arrays.copyOfRange(all, 0, MIB));
        assertArrayEquals(random(MIB, 2), java.util.Arrays.copyOfRange(all, MIB, 2 * MIB));
        assertArrayEquals(random(MIB - 512, 3), java.util.Arrays.copyOfRange(all, 2 * MIB + 512, 3 * MIB));
    }

    @Test
    void withoutDirectIo_noDescriptorIsOpenedDirect() throws Exception {
        Path f = file();
        try (BlockDevice d = open(f, false)) {
            assertEquals(0, directDescriptors(f));
            d.submit(List.of(IoRequest.bulkWrite(0, ByteBuffer.wrap(random(MIB, 4))))).await();
            assertArrayEquals(random(MIB, 4), read(d, 0, MIB));
        }
    }

    @Test
    void aReadOnlyDeviceOpensNothingDirect() throws Exception {
        Path f = file();
        try (BlockDevice d = BlockDevice.openReadOnly(f)) {
            assertEquals(0, directDescriptors(f));
        }
    }
}
