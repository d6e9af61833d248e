package jbtrfs.compress;

import io.airlift.compress.lzo.LzoCompressor;
import io.airlift.compress.zstd.ZstdCompressor;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.zip.Deflater;

/**
 * Compresses up to {@link Decompressor#MAX_UNCOMPRESSED} bytes into the on-disk form of a compressed extent, framed
 * as the kernel frames it (fs/btrfs/zlib.c, lzo.c, zstd.c): one zlib stream; LZO in per-sector segments behind a
 * total length, a segment header never split across a sector; one zstd frame. Thread-safe.
 */
public final class Compressor {
    /** The kernel's default levels (zlib 3, zstd 3; lzo has none). */
    public static final int DEFAULT_LEVEL = 3;
    private static final int LZO_LEN = 4;

    private Compressor() {}

    /**
     * The compressed bytes of {@code in[off, off+len)}, not padded; null when they would not be smaller than the
     * input (the kernel gives up too: -E2BIG).
     */
    public static byte[] compress(CompressionType type, int level, byte[] in, int off, int len, int sectorSize) {
        if (len <= 0 || len > Decompressor.MAX_UNCOMPRESSED) {
            throw new IllegalArgumentException("cannot compress " + len + " bytes into one extent");
        }
        byte[] out = switch (type) {
            case ZLIB -> zlib(level, in, off, len);
            case LZO -> lzo(in, off, len, sectorSize);
            case ZSTD -> zstd(in, off, len);
            case NONE -> throw new IllegalArgumentException("no compression type");
        };
        return out == null || out.length >= len ? null : out;
    }

    private static byte[] zlib(int level, byte[] in, int off, int len) {
        Deflater d = new Deflater(level);
        try {
            d.setInput(in, off, len);
            d.finish();
            // a stream that does not fit in the input's size is no use: stop there
            byte[] out = new byte[len];
            int n = 0;
            while (!d.finished()) {
                if (n == out.length) return null;
                n += d.deflate(out, n, out.length - n);
            }
            return Arrays.copyOf(out, n);
        } finally {
            d.end();
        }
    }

    /** Total length, then for each sector of input a segment (its length, its LZO1X block). */
    private static byte[] lzo(byte[] in, int off, int len, int sectorSize) {
        LzoCompressor c = new LzoCompressor();
        byte[] block = new byte[c.maxCompressedLength(sectorSize)];
        ByteArrayOutputStream out = new ByteArrayOutputStream(len);
        out.write(new byte[LZO_LEN], 0, LZO_LEN);
        for (int at = 0; at < len; at += sectorSize) {
            int n = c.compress(in, off + at, Math.min(sectorSize, len - at), block, 0, block.length);
            writeLe32(out, n);
            out.write(block, 0, n);
            // a segment header is never split across sectors: too little room left is padded, after the last too
            int left = sectorSize - out.size() % sectorSize;
            if (left < LZO_LEN) out.write(new byte[left], 0, left);
            if (out.size() >= len) return null;
        }
        byte[] b = out.toByteArray();
        b[0] = (byte) b.length;
        b[1] = (byte) (b.length >>> 8);
        b[2] = (byte) (b.length >>> 16);
        b[3] = (byte) (b.length >>> 24);
        return b;
    }

    private static byte[] zstd(byte[] in, int off, int len) {
        // the frame's window follows the input's size: at most 128 KiB, the kernel's ZSTD_BTRFS_MAX_WINDOWLOG
        ZstdCompressor c = new ZstdCompressor();
        byte[] out = new byte[c.maxCompressedLength(len)];
        int n = c.compress(in, off, len, out, 0, out.length);
        return Arrays.copyOf(out, n);
    }

    private static void writeLe32(ByteArrayOutputStream out, int v) {
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
    }
}
