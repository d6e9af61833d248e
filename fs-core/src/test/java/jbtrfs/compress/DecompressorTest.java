package jbtrfs.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.Deflater;

import org.junit.jupiter.api.Test;

import io.airlift.compress.lzo.LzoCompressor;
import io.airlift.compress.zstd.ZstdCompressor;

/**
 * Round trips through independent encoders in Btrfs's layouts, and damaged input that must fail cleanly.
 * (What the kernel itself writes is covered by KernelCompressedExtentsTest and fs.KernelWrittenImageTest.)
 */
class DecompressorTest {
    private static final int SECTOR = 4096;

    private static byte[] sample(int n) {
        byte[] b = new byte[n];
        Random r = new Random(n);
        for (int i = 0; i < n; i++) b[i] = (byte) (i % 97 < 60 ? 'a' + i % 13 : r.nextInt());
        return b;
    }

    private static byte[] zlib(byte[] plain) {
        Deflater d = new Deflater();
        d.setInput(plain);
        d.finish();
        byte[] out = new byte[plain.length * 2 + 64];
        int n = d.deflate(out);
        d.end();
        return Arrays.copyOf(out, n);
    }

    /** zstd frame padded with zeros to a sector, as Btrfs stores it. */
    private static byte[] zstd(byte[] plain) {
        ZstdCompressor c = new ZstdCompressor();
        byte[] out = new byte[c.maxCompressedLength(plain.length)];
        int n = c.compress(plain, 0, plain.length, out, 0, out.length);
        return Arrays.copyOf(out, (n + SECTOR - 1) / SECTOR * SECTOR);
    }

    /** Btrfs LZO framing around per-sector LZO1X segments. */
    static byte[] lzo(byte[] plain) {
        LzoCompressor c = new LzoCompressor();
        ByteBuffer out = ByteBuffer.allocate(plain.length * 2 + 4 * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        out.position(4);
        for (int off = 0; off < plain.length; off += SECTOR) {
            int len = Math.min(SECTOR, plain.length - off);
            byte[] seg = new byte[c.maxCompressedLength(len)];
            int n = c.compress(plain, off, len, seg, 0, seg.length);
            int left = SECTOR - out.position() % SECTOR;
            if (left < 4) out.position(out.position() + left);
            out.putInt(n);
            out.put(seg, 0, n);
        }
        int total = out.position();
        out.putInt(0, total);
        return Arrays.copyOf(out.array(), total);
    }

    private static byte[] decode(CompressionType t, byte[] in, int len) throws Exception {
        byte[] out = new byte[len];
        Decompressor.decompress(t, ByteBuffer.wrap(in), out, len, SECTOR);
        return out;
    }

    @Test
    void eachType_roundTrips() throws Exception {
        for (int n : new int[] {1, 100, 4095, 4096, 4097, 50_000, 131_072}) {
            byte[] plain = sample(n);
            assertArrayEquals(plain, decode(CompressionType.ZLIB, zlib(plain), n), "zlib " + n);
            assertArrayEquals(plain, decode(CompressionType.ZSTD, zstd(plain), n), "zstd " + n);
            assertArrayEquals(plain, decode(CompressionType.LZO, lzo(plain), n), "lzo " + n);
        }
    }

    @Test
    void outputPastTheStream_isZero() throws Exception {
        byte[] plain = sample(5000);
        byte[] got = decode(CompressionType.ZLIB, zlib(plain), 8192);
        assertArrayEquals(plain, Arrays.copyOf(got, 5000));
        assertArrayEquals(new byte[3192], Arrays.copyOfRange(got, 5000, 8192));
    }

    @Test
    void damagedInput_failsCleanly() {
        byte[] plain = sample(50_000);
        for (CompressionType t : new CompressionType[] {CompressionType.ZLIB, CompressionType.ZSTD,
                CompressionType.LZO}) {
            byte[] good = t == CompressionType.ZLIB ? zlib(plain) : t == CompressionType.ZSTD ? zstd(plain) : lzo(plain);
            assertThrows(CorruptCompressedDataException.class,
                    () -> decode(t, Arrays.copyOf(good, 5), 50_000), t + " truncated");
            byte[] header = good.clone();
            header[0] ^= 0x7f;
            header[1] ^= 0x7f;
            assertThrows(CorruptCompressedDataException.class, () -> decode(t, header, 50_000), t + " bad header");
        }
    }
}
