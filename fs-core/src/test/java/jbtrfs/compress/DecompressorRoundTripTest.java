package jbtrfs.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.Deflater;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

import io.airlift.compress.lzo.LzoCompressor;
import io.airlift.compress.zstd.ZstdCompressor;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * Round trips through independent compressors (JDK Deflater, aircompressor's LZO and zstd compressors) framed the
 * way Btrfs frames them. Kernel-written extents are checked in {@link KernelCompressedExtentsTest}.
 */
class DecompressorRoundTripTest {
    static final int SECTOR = 4096;

    static byte[] text(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < n; i++) {
            sb.append("line ").append(i).append(": the quick brown fox jumps over the lazy dog\n");
        }
        return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), n);
    }

    static byte[] zlib(byte[] data) {
        Deflater d = new Deflater(3);
        d.setInput(data);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf));
        }
        d.end();
        return out.toByteArray();
    }

    static byte[] lzoBlock(byte[] data, int off, int len) {
        LzoCompressor c = new LzoCompressor();
        byte[] out = new byte[c.maxCompressedLength(len)];
        int n = c.compress(data, off, len, out, 0, out.length);
        return Arrays.copyOf(out, n);
    }

    /** Btrfs LZO framing as fs/btrfs/lzo.c writes it: total, then per sector a segment, headers never split. */
    static byte[] btrfsLzo(byte[] data, int sectorSize) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[4], 0, 4);
        for (int in = 0; in < data.length; in += sectorSize) {
            byte[] seg = lzoBlock(data, in, Math.min(sectorSize, data.length - in));
            writeLe32(out, seg.length);
            out.write(seg, 0, seg.length);
            int left = sectorSize - out.size() % sectorSize;
            if (left < 4 && left != sectorSize) {
                out.write(new byte[left], 0, left);
            }
        }
        byte[] b = out.toByteArray();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(0, b.length);
        return b;
    }

    static void writeLe32(ByteArrayOutputStream out, int v) {
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
    }

    static byte[] zstd(byte[] data) {
        ZstdCompressor c = new ZstdCompressor();
        byte[] out = new byte[c.maxCompressedLength(data.length)];
        int n = c.compress(data, 0, data.length, out, 0, out.length);
        return Arrays.copyOf(out, n);
    }

    /** Pads to a whole number of sectors, as a regular extent sits on disk. */
    static ByteBuffer onDisk(byte[] compressed) {
        int len = (compressed.length + SECTOR - 1) / SECTOR * SECTOR;
        return ByteBuffer.wrap(Arrays.copyOf(compressed, len));
    }

    static byte[] decompress(CompressionType type, ByteBuffer src, int ramBytes) throws CorruptCompressedDataException {
        byte[] dst = new byte[ramBytes + 5];
        Arrays.fill(dst, (byte) 0x5A);
        Decompressor.decompress(type, src, dst, ramBytes, SECTOR);
        for (int i = ramBytes; i < dst.length; i++) {
            assertEquals(0x5A, dst[i], "wrote past dstLength");
        }
        return Arrays.copyOf(dst, ramBytes);
    }

    @Test
    void zlib_roundTrip() throws Exception {
        byte[] data = text(128 * 1024);
        assertArrayEquals(data, decompress(CompressionType.ZLIB, onDisk(zlib(data)), data.length));
    }

    @Test
    void lzo_roundTrip_mixedContent() throws Exception {
        byte[] data = text(128 * 1024);
        byte[] noise = new byte[20000];
        new Random(7).nextBytes(noise);
        System.arraycopy(noise, 0, data, 50000, noise.length);
        assertArrayEquals(data, decompress(CompressionType.LZO, onDisk(btrfsLzo(data, SECTOR)), data.length));
    }

    @Test
    void zstd_roundTrip_directBuffer() throws Exception {
        byte[] data = text(100_000);
        ByteBuffer heap = onDisk(zstd(data));
        ByteBuffer direct = ByteBuffer.allocateDirect(heap.remaining()).put(heap.duplicate()).flip();
        assertArrayEquals(data, decompress(CompressionType.ZSTD, direct, data.length));
        assertEquals(0, direct.position(), "source position untouched");
    }

    @Test
    void regular_streamEndingEarly_isZeroFilled() throws Exception {
        byte[] data = text(5000);
        byte[] expected = Arrays.copyOf(data, 8192);
        assertArrayEquals(expected, decompress(CompressionType.ZLIB, onDisk(zlib(data)), 8192));
        assertArrayEquals(expected, decompress(CompressionType.ZSTD, onDisk(zstd(data)), 8192));
        assertArrayEquals(expected, decompress(CompressionType.LZO, onDisk(btrfsLzo(data, SECTOR)), 8192));
    }

    @Test
    void inline_streamEndingEarly_isAnError() {
        byte[] data = text(100);
        assertThrows(CorruptCompressedDataException.class, () -> Decompressor.decompressInline(CompressionType.ZLIB,
                ByteBuffer.wrap(zlib(data)), new byte[200], 200, SECTOR));
        assertThrows(CorruptCompressedDataException.class, () -> Decompressor.decompressInline(CompressionType.ZSTD,
                ByteBuffer.wrap(zstd(data)), new byte[200], 200, SECTOR));
        assertThrows(CorruptCompressedDataException.class, () -> Decompressor.decompressInline(CompressionType.LZO,
                ByteBuffer.wrap(btrfsLzo(data, SECTOR)), new byte[200], 200, SECTOR));
    }

    @Test
    void inline_roundTrip() throws Exception {
        byte[] data = text(100);
        for (CompressionType type : new CompressionType[] {CompressionType.ZLIB, CompressionType.LZO,
                CompressionType.ZSTD}) {
            byte[] c = type == CompressionType.ZLIB ? zlib(data) : type == CompressionType.LZO
                    ? btrfsLzo(data, SECTOR) : zstd(data);
            byte[] dst = new byte[100];
            Decompressor.decompressInline(type, ByteBuffer.wrap(c), dst, 100, SECTOR);
            assertArrayEquals(data, dst, type.toString());
        }
    }

    @Test
    void longerOutputThanRamBytes_isTruncatedLikeTheKernel() throws Exception {
        byte[] data = text(20000);
        for (CompressionType type : new CompressionType[] {CompressionType.ZLIB, CompressionType.LZO,
                CompressionType.ZSTD}) {
            byte[] c = type == CompressionType.ZLIB ? zlib(data) : type == CompressionType.LZO
                    ? btrfsLzo(data, SECTOR) : zstd(data);
            assertArrayEquals(Arrays.copyOf(data, 10000), decompress(type, onDisk(c), 10000), type.toString());
        }
    }
    /** Output of the zstd command-line tool for {@code data}, or a skipped test when it is not installed. */
    static byte[] zstdCli(byte[] data, String... options) throws Exception {
        Prereq.require(Files.isExecutable(Path.of("/usr/bin/zstd")),
                "/usr/bin/zstd (package zstd) is not installed");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/zstd", "-q", "-c"));
        cmd.addAll(List.of(options));
        Path in = Files.createTempFile("jbtrfs-zstd", ".in");
        Path out = Files.createTempFile("jbtrfs-zstd", ".zst");
        try {
            Files.write(in, data);
            // zstd's output is binary: it goes to a file, not through the runner's text
            Shell.Result r = Shell.exec(new ProcessBuilder(cmd).redirectOutput(out.toFile()), in, Shell.TIMEOUT);
            assertEquals(0, r.exitCode(), "zstd exit status: " + r.stderr());
            return Files.readAllBytes(out);
        } finally {
            Files.delete(in);
            Files.delete(out);
        }
    }

    @Test
    void zstd_cliFrames_withoutContentSize_withChecksum() throws Exception {
        byte[] data = text(128 * 1024);
        // Descriptor byte 4: Frame_Content_Size_flag in bits 7-6, Single_Segment in bit 5, checksum in bit 2.
        byte[] noSize = zstdCli(data, "--no-content-size", "--no-check", "-19");
        assertEquals(0, (noSize[4] & 0xFF) >>> 6, "frame has no content size");
        assertEquals(0, noSize[4] & 0x20, "no single-segment flag (it would imply a size)");
        assertArrayEquals(data, decompress(CompressionType.ZSTD, onDisk(noSize), data.length));
        assertArrayEquals(Arrays.copyOf(data, 70_000), decompress(CompressionType.ZSTD, onDisk(noSize), 70_000));

        byte[] checked = zstdCli(data, "--check", "-1");
        assertEquals(4, checked[4] & 0x04, "frame has a content checksum");
        assertArrayEquals(data, decompress(CompressionType.ZSTD, onDisk(checked), data.length));
        byte[] badChecksum = checked.clone();
        badChecksum[badChecksum.length - 1] ^= 1;
        assertThrows(CorruptCompressedDataException.class,
                () -> decompress(CompressionType.ZSTD, onDisk(badChecksum), data.length));
    }

    @Test
    void lzo_largerSectors_roundTrip() throws Exception {
        // Sectors of 16 and 64 KiB (the kernel here mounts only 4 KiB ones): segments, padding and long matches.
        byte[] data = text(128 * 1024);
        byte[] noise = new byte[30_000];
        new Random(8).nextBytes(noise);
        System.arraycopy(noise, 0, data, 10_000, noise.length);
        System.arraycopy(noise, 0, data, 90_000, noise.length); // repeats 80000 bytes later
        for (int sector : new int[] {8192, 16384, 65536}) {
            byte[] framed = btrfsLzo(data, sector);
            int padded = (framed.length + sector - 1) / sector * sector;
            byte[] dst = new byte[data.length];
            Decompressor.decompress(CompressionType.LZO, ByteBuffer.wrap(Arrays.copyOf(framed, padded)), dst,
                    data.length, sector);
            assertArrayEquals(data, dst, "sector " + sector);
        }
    }

    @Test
    void decompress_concurrentThreads_agree() throws Exception {
        byte[] data = text(128 * 1024);
        byte[][] inputs = {zlib(data), btrfsLzo(data, SECTOR), zstd(data)};
        CompressionType[] types = {CompressionType.ZLIB, CompressionType.LZO, CompressionType.ZSTD};
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int task = 0; task < 8; task++) {
                int t = task % 3;
                results.add(pool.submit(() -> {
                    byte[] dst = new byte[data.length];
                    for (int round = 0; round < 30; round++) {
                        Decompressor.decompress(types[t], onDisk(inputs[t]), dst, dst.length, SECTOR);
                        if (!Arrays.equals(data, dst)) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : results) {
                Assertions.assertTrue(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
