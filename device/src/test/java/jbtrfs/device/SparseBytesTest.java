package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.testing.Shell;

/** Sparse storage: absent pages read as zeros, zeros allocate nothing, a 1 GiB image costs what it holds. */
class SparseBytesTest {
    private static final long GIB = 1L << 30;
    private static final int PAGE = SparseBytes.PAGE;

    @TempDir
    Path dir;

    @Test
    void readsAndWritesAcrossPages_matchAPlainArray() {
        Random rnd = new Random(5);
        int size = 10 * PAGE + 123;
        byte[] model = new byte[size];
        SparseBytes s = new SparseBytes(size);
        for (int i = 0; i < 200; i++) {
            int len = rnd.nextInt(3 * PAGE);
            int off = rnd.nextInt(size - len + 1);
            byte[] data = new byte[len];
            if (rnd.nextBoolean()) rnd.nextBytes(data); // else zeros, over present or absent pages
            s.write(off, data, 0, len);
            System.arraycopy(data, 0, model, off, len);
            int rlen = rnd.nextInt(3 * PAGE);
            int roff = rnd.nextInt(size - rlen + 1);
            byte[] got = new byte[rlen + 7];
            s.read(roff, got, 7, rlen);
            assertArrayEquals(Arrays.copyOfRange(model, roff, roff + rlen), Arrays.copyOfRange(got, 7, rlen + 7));
            ByteBuffer b = ByteBuffer.allocate(rlen + 3).position(3);
            s.read(roff, b, rlen);
            assertEquals(3, b.position(), "a read leaves the buffer's position");
            assertArrayEquals(Arrays.copyOfRange(model, roff, roff + rlen), Arrays.copyOfRange(b.array(), 3, rlen + 3));
        }
        assertArrayEquals(model, s.toArray());
        SparseBytes c = s.copy();
        s.write(0, new byte[] {1, 2, 3}, 0, 3);
        assertEquals(model[0], c.toArray()[0], "a copy is independent");
    }

    @Test
    void zeros_allocateNothing() {
        SparseBytes s = new SparseBytes(GIB);
        s.write(5 * PAGE + 10, new byte[3 * PAGE], 0, 3 * PAGE);
        assertEquals(0, s.allocatedBytes());
        s.write(GIB - 1, new byte[] {9}, 0, 1);
        assertEquals(PAGE, s.allocatedBytes());
        byte[] b = new byte[2];
        s.read(GIB - 2, b, 0, 2);
        assertArrayEquals(new byte[] {0, 9}, b);
    }

    @Test
    void oneGibDeviceFromASparseFile_powerCutToASparseFile() throws Exception {
        Path image = dir.resolve("in.img");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(GIB);
            raf.seek(65536);
            raf.write(filled(4096, (byte) 0x11));
            raf.seek(GIB / 2);
            raf.write(filled(4096, (byte) 0x22));
        }
        MemoryBlockDevice dev = MemoryBlockDevice.create(image, 16, FaultPlan.none(), 1, new SimpleMeterRegistry());
        assertEquals(GIB, dev.size());
        assertArrayEquals(filled(4096, (byte) 0x22), dev.readBytes(GIB / 2, 4096));
        assertArrayEquals(new byte[4096], dev.readBytes(GIB / 4, 4096));
        dev.write(GIB - 8192, ByteBuffer.wrap(filled(8192, (byte) 0x33)));
        dev.flush();
        dev.write(GIB / 4, ByteBuffer.wrap(filled(4096, (byte) 0x44))); // not durable: its fate is the seed's
        Path out = dir.resolve("out.img");
        dev.powerCutTo(out, 3);
        dev.close();

        assertEquals(GIB, Files.size(out));
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.READ)) {
            assertArrayEquals(filled(4096, (byte) 0x11), read(ch, 65536, 4096));
            assertArrayEquals(filled(4096, (byte) 0x22), read(ch, GIB / 2, 4096));
            assertArrayEquals(filled(8192, (byte) 0x33), read(ch, GIB - 8192, 8192));
            byte[] volatileOne = read(ch, GIB / 4, 4096);
            for (byte v : volatileOne) assertTrue(v == 0 || v == 0x44, "the unflushed write holds only its data");
            assertArrayEquals(new byte[4096], read(ch, GIB / 8, 4096));
        }
        // the same cut as an array: one semantics for both forms
        assertArrayEquals(read(out, GIB - 16384, 16384), Arrays.copyOfRange(cutAgain(image, 3), (int) (GIB - 16384),
                (int) GIB));
        long allocated = allocatedBytes(out);
        assertTrue(allocated < 4L << 20, "the cut image stays sparse: " + allocated + " bytes allocated");
    }

    /** The same workload cut with {@link MemoryBlockDevice#powerCut(long)}. */
    private static byte[] cutAgain(Path image, long seed) throws Exception {
        MemoryBlockDevice dev = MemoryBlockDevice.create(image, 16, FaultPlan.none(), 1, new SimpleMeterRegistry());
        dev.write(GIB - 8192, ByteBuffer.wrap(filled(8192, (byte) 0x33)));
        dev.flush();
        dev.write(GIB / 4, ByteBuffer.wrap(filled(4096, (byte) 0x44)));
        byte[] out = dev.powerCut(seed);
        dev.close();
        return out;
    }

    /** Bytes the file system allocated to {@code file} (Java has no attribute for it; stat has). */
    private static long allocatedBytes(Path file) throws Exception {
        String[] out = Shell.run(List.of("stat", "-c", "%b %B", file.toString())).trim().split(" ", -1);
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    private static byte[] read(Path file, long at, int n) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(ch, at, n);
        }
    }

    private static byte[] read(FileChannel ch, long at, int n) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) ch.read(b, at + b.position());
        return b.array();
    }

    private static byte[] filled(int n, byte v) {
        byte[] b = new byte[n];
        Arrays.fill(b, v);
        return b;
    }
}
