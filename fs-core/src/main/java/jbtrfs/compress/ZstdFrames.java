package jbtrfs.compress;

import io.airlift.compress.zstd.ZstdDecompressor;

/**
 * zstd extents: one standard frame, padded with zeros to the sector. The decoder is given exactly the frame, whose
 * end is found by walking its block headers, so the padding is never taken for a second frame.
 */
final class ZstdFrames {
    private static final int MAGIC = 0xFD2FB528;

    private ZstdFrames() {
    }

    static void decompress(byte[] in, byte[] dst, int dstLength) throws CorruptCompressedDataException {
        // a frame that decodes to more than ram_bytes is corrupt: the decoder refuses to overrun dstLength
        new ZstdDecompressor().decompress(in, 0, frameLength(in), dst, 0, dstLength);
    }

    /** Bytes from the start of {@code in} to the end of its first frame. */
    static int frameLength(byte[] in) throws CorruptCompressedDataException {
        if (in.length < 6 || readInt(in, 0) != MAGIC) {
            throw new CorruptCompressedDataException("no zstd frame magic");
        }
        int descriptor = in[4] & 0xff;
        int fcsFlag = descriptor >>> 6;
        boolean singleSegment = (descriptor & 0x20) != 0;
        boolean checksum = (descriptor & 0x04) != 0;
        int dictIdFlag = descriptor & 0x03;
        int pos = 5 + (singleSegment ? 0 : 1) + new int[] {0, 1, 2, 4}[dictIdFlag]
                + new int[] {singleSegment ? 1 : 0, 2, 4, 8}[fcsFlag];
        while (true) {
            if (pos + 3 > in.length) throw new CorruptCompressedDataException("zstd frame ends inside a block header");
            int header = (in[pos] & 0xff) | (in[pos + 1] & 0xff) << 8 | (in[pos + 2] & 0xff) << 16;
            pos += 3;
            boolean last = (header & 1) != 0;
            int type = (header >>> 1) & 3;
            int size = header >>> 3;
            if (type == 3) throw new CorruptCompressedDataException("reserved zstd block type");
            pos += type == 1 ? 1 : size;
            if (pos > in.length) throw new CorruptCompressedDataException("zstd block runs past the extent");
            if (last) break;
        }
        if (checksum) pos += 4;
        if (pos > in.length) throw new CorruptCompressedDataException("zstd checksum runs past the extent");
        return pos;
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }
}
