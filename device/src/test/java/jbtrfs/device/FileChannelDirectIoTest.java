package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.nio.file.ExtendedOpenOption;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The NIO backend's large aligned bulk writes and reads go around the page cache, and stay coherent with its
 * buffered reads and writes. Whether a read went around the cache is told by fincore (util-linux): what the host
 * caches of the file after the read.
 */
class FileChannelDirectIoTest {
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
            Prereq.require(false, dir + " refuses O_DIRECT (" + e + ")");
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
        assertArrayEquals(random(MIB, 1), Arrays.copyOfRange(all, 0, MIB));
        assertArrayEquals(random(MIB, 2), Arrays.copyOfRange(all, MIB, 2 * MIB));
        assertArrayEquals(random(MIB - 512, 3), Arrays.copyOfRange(all, 2 * MIB + 512, 3 * MIB));
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

    /** Runs a command; its output, or a skip (printed) where the command is missing. */
    private static String sh(String... command) throws IOException, InterruptedException {
        Prereq.requireBinary(command[0], "coreutils");
        return Shell.run(List.of(command));
    }

    /** Drops the host's cached pages of {@code f} (GNU dd's nocache: posix_fadvise DONTNEED). */
    private static void dropCache(Path f) throws IOException, InterruptedException {
        sh("dd", "if=" + f, "iflag=nocache", "count=0", "status=none");
    }

    /** Bytes of {@code f} in the host's page cache. */
    private static long cached(Path f) throws IOException, InterruptedException {
        return Long.parseLong(sh("fincore", "--bytes", "--noheadings", "--output", "RES", f.toString()).trim());
    }

    private static Path filled(Path f) throws IOException, InterruptedException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(random(4 * MIB, 7)), 0);
            ch.force(false);
        }
        dropCache(f);
        assertEquals(0, cached(f), "the file's pages left the cache");
        return f;
    }

    private static byte[] expected(int offset, int length) {
        return Arrays.copyOfRange(random(4 * MIB, 7), offset, offset + length);
    }

    @Test
    void largeAlignedBulkReads_bypassTheCache_whateverTheDestinationsMemory() throws Exception {
        Path f = filled(file());
        try (BlockDevice d = open(f, true)) {
            ByteBuffer aligned = AlignedBuffers.allocateAligned(MIB, 4096);
            d.readBulk(0, aligned);
            assertEquals(MIB, aligned.position());
            ByteBuffer heap = ByteBuffer.allocate(MIB);
            d.readBulk(MIB, heap);
            // a direct buffer 16 bytes off alignment, as libfuse's malloc'ed read buffers are
            ByteBuffer unalignedDirect = AlignedBuffers.allocateAligned(MIB, 4096).slice(16, 128 << 10);
            d.readBulk(2L * MIB, unalignedDirect);
            assertEquals(0, cached(f), "no page of the file entered the host's cache");
            assertArrayEquals(expected(0, MIB), bytes(aligned.flip()));
            assertArrayEquals(expected(MIB, MIB), heap.array());
            assertArrayEquals(expected(2 * MIB, 128 << 10), bytes(unalignedDirect.flip()));
        }
    }

    @Test
    void smallOrUnalignedBulkReads_andPlainReads_goThroughTheCache() throws Exception {
        Path f = filled(file());
        try (BlockDevice d = open(f, true)) {
            ByteBuffer small = ByteBuffer.allocate(32 << 10);
            d.readBulk(0, small);
            assertArrayEquals(expected(0, 32 << 10), small.array());
            ByteBuffer odd = ByteBuffer.allocate(MIB);
            d.readBulk(MIB + 512, odd);
            assertArrayEquals(expected(MIB + 512, MIB), odd.array());
            assertArrayEquals(expected(3 * MIB, MIB), read(d, 3L * MIB, MIB));
            assertTrue(cached(f) >= 2L * MIB + (32 << 10), "the buffered reads' pages are cached: " + cached(f));
        }
    }

    @Test
    void aBulkReadSeesBytesWrittenThroughTheCache_notYetOnDisk() throws Exception {
        Path f = filled(file());
        try (BlockDevice d = open(f, true)) {
            byte[] fresh = random(MIB, 8);
            d.write(MIB, ByteBuffer.wrap(fresh));
            ByteBuffer b = ByteBuffer.allocate(2 * MIB);
            d.readBulk(0, b);
            assertArrayEquals(expected(0, MIB), Arrays.copyOfRange(b.array(), 0, MIB));
            assertArrayEquals(fresh, Arrays.copyOfRange(b.array(), MIB, 2 * MIB));
        }
    }

    @Test
    void readOnlyDevice_readsBulkAroundTheCache() throws Exception {
        Path f = filled(file());
        try (BlockDevice d = BlockDevice.openReadOnly(f)) {
            assertEquals(1, directDescriptors(f));
            ByteBuffer b = ByteBuffer.allocate(MIB);
            d.readBulk(0, b);
            assertArrayEquals(expected(0, MIB), b.array());
            assertEquals(0, cached(f));
        }
    }

    @Test
    void withoutDirectIo_bulkReadsAreBuffered() throws Exception {
        Path f = filled(file());
        try (BlockDevice d = open(f, false)) {
            ByteBuffer b = ByteBuffer.allocate(MIB);
            d.readBulk(0, b);
            assertArrayEquals(expected(0, MIB), b.array());
            assertTrue(cached(f) >= MIB);
        }
    }

    @Test
    void aFileSmallerThanOneAlignedBlock_staysBuffered() throws Exception {
        file();
        Path f = dir.resolve("tiny.img");
        Files.write(f, random(1024, 9));
        try (BlockDevice d = open(f, true)) {
            assertEquals(0, directDescriptors(f), "no aligned O_DIRECT read fits, so no O_DIRECT descriptor");
            ByteBuffer b = ByteBuffer.allocate(1024);
            d.readBulk(0, b);
            assertArrayEquals(random(1024, 9), b.array());
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }
}
