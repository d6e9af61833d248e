package jbtrfs.compress;

import io.airlift.compress.lzo.LzoDecompressor;

/**
 * Btrfs's LZO framing (fs/btrfs/lzo.c): a 4-byte little-endian total length (itself included), then segments,
 * each a 4-byte little-endian length and an LZO1X block that decodes to at most one sector. A segment header never
 * straddles a sector boundary: when fewer than 4 bytes remain in a sector, they are zero padding.
 */
final class LzoFraming {
    private static final int LEN = 4;

    private LzoFraming() {
    }

    static void decompress(byte[] in, byte[] dst, int dstLength, int sectorSize) throws CorruptCompressedDataException {
        if (in.length < LEN) throw new CorruptCompressedDataException("lzo data of " + in.length + " bytes");
        long total = readLength(in, 0);
        if (total > in.length || total < LEN) {
            throw new CorruptCompressedDataException("lzo total length " + total + " in " + in.length + " bytes");
        }
        LzoDecompressor lzo = new LzoDecompressor();
        byte[] segment = new byte[sectorSize];
        int cur = LEN;
        int out = 0;
        while (cur < total && out < dstLength) {
            if (cur + LEN > total) throw new CorruptCompressedDataException("lzo segment header past the end");
            long segLen = readLength(in, cur);
            cur += LEN;
            if (segLen == 0 || segLen > worstCompressed(sectorSize) || cur + segLen > total) {
                throw new CorruptCompressedDataException("lzo segment of " + segLen + " bytes at " + (cur - LEN));
            }
            int n = lzo.decompress(in, cur, (int) segLen, segment, 0, segment.length);
            if (n <= 0 || n > sectorSize) throw new CorruptCompressedDataException("lzo segment decoded to " + n);
            int copy = Math.min(n, dstLength - out);
            System.arraycopy(segment, 0, dst, out, copy);
            out += copy;
            cur += (int) segLen;
            int left = sectorSize - cur % sectorSize;
            if (left < LEN) cur += left;
        }
    }

    /** lzo1x_worst_compress: the largest a block of {@code n} bytes can grow to. */
    private static long worstCompressed(int n) {
        return n + n / 16 + 64 + 3;
    }

    private static long readLength(byte[] b, int at) {
        return (b[at] & 0xffL) | (b[at + 1] & 0xffL) << 8 | (b[at + 2] & 0xffL) << 16 | (b[at + 3] & 0xffL) << 24;
    }
}
