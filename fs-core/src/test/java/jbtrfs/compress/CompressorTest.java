package jbtrfs.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Our compressor's output decodes with our decompressor (which reads kernel-written extents, see
 * {@link KernelCompressedExtentsTest}); the kernel's decoding of it is shown by CompressedWriteTest.
 */
class CompressorTest {
    private static final int SECTOR = DecompressorRoundTripTest.SECTOR;

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    void compressibleInputs_roundTrip(CompressionType type) throws Exception {
        Random rnd = new Random(type.code());
        for (int len : new int[] {4097, 8192, 12_345, 65_536, 100_003, 128 * 1024}) {
            byte[] data = DecompressorRoundTripTest.text(len);
            // a stretch of noise inside: segments that do not compress among ones that do
            byte[] noise = new byte[len / 5];
            rnd.nextBytes(noise);
            System.arraycopy(noise, 0, data, len / 3, noise.length);
            byte[] z = Compressor.compress(type, Compressor.DEFAULT_LEVEL, data, 0, len, SECTOR);
            assertNotNull(z, type + " " + len);
            assertTrue(z.length < len, type + " " + len);
            assertArrayEquals(data, DecompressorRoundTripTest.decompress(type, DecompressorRoundTripTest.onDisk(z),
                    len), type + " " + len);
        }
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    void incompressibleInput_givesNull(CompressionType type) {
        byte[] data = new byte[128 * 1024];
        new Random(1).nextBytes(data);
        assertNull(Compressor.compress(type, Compressor.DEFAULT_LEVEL, data, 0, data.length, SECTOR));
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    void anOffsetIntoTheArray_compressesThatSlice(CompressionType type) throws Exception {
        byte[] data = DecompressorRoundTripTest.text(50_000);
        byte[] z = Compressor.compress(type, 1, data, 7_000, 30_000, SECTOR);
        assertArrayEquals(Arrays.copyOfRange(data, 7_000, 37_000),
                DecompressorRoundTripTest.decompress(type, DecompressorRoundTripTest.onDisk(z), 30_000));
    }

    @Test
    void lzoSegmentHeaders_neverCrossASector_andTheFramingIsTheKernels() throws Exception {
        Random rnd = new Random(5);
        int padded = 0;
        for (int round = 0; round < 200; round++) {
            int len = 8 * 1024 + rnd.nextInt(120 * 1024);
            byte[] data = DecompressorRoundTripTest.text(len);
            for (int i = 0; i < len; i += 1 + rnd.nextInt(64)) data[i] = (byte) rnd.nextInt();
            byte[] z = Compressor.compress(CompressionType.LZO, 0, data, 0, len, SECTOR);
            if (z == null) continue;
            assertArrayEquals(DecompressorRoundTripTest.btrfsLzo(data, SECTOR), z, "framing, length " + len);
            ByteBuffer b = ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(z.length, b.getInt(0), "total length");
            int at = 4;
            while (at < z.length) {
                assertTrue(at / SECTOR == (at + 3) / SECTOR, "segment header at " + at + " crosses a sector");
                at += 4 + b.getInt(at);
                int left = SECTOR - at % SECTOR;
                if (left < 4) {
                    padded++;
                    at += left;
                }
            }
            assertEquals(z.length, at);
            assertArrayEquals(data, DecompressorRoundTripTest.decompress(CompressionType.LZO,
                    DecompressorRoundTripTest.onDisk(z), len));
        }
        assertTrue(padded > 0, "no input needed padding: the case went untested");
    }

    @Test
    void moreThanOneExtentsWorth_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> Compressor.compress(CompressionType.ZLIB, 3,
                new byte[128 * 1024 + 1], 0, 128 * 1024 + 1, SECTOR));
    }
}
