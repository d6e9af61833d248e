package jbtrfs.compress;

/**
 * Walks the headers of one Zstandard frame (RFC 8878 section 3.1.1) to find where it ends, without decoding it.
 *
 * <p>Btrfs pads a compressed extent with zeros up to a sector and the kernel stops at the end of the first frame;
 * aircompressor would read the padding as a second frame and fail, so we hand it exactly one frame.
 */
final class ZstdFrame {
    static final int MAGIC = 0xFD2FB528;
    private static final int MAX_BLOCK_SIZE = 128 * 1024;
    /** Bytes of Dictionary_ID and Frame_Content_Size for each value of their 2-bit flags. */
    private static final int[] DICT_ID_SIZES = {0, 1, 2, 4};
    private static final int[] FCS_SIZES = {0, 2, 4, 8};

    /** Bytes the frame occupies. */
    final int length;
    /** Frame_Content_Size, or -1 when the header omits it. */
    final long contentSize;

    private ZstdFrame(int length, long contentSize) {
        this.length = length;
        this.contentSize = contentSize;
    }

    /** Parses the frame starting at {@code in[off]} within {@code len} bytes. */
    static ZstdFrame parse(byte[] in, int off, int len) throws CorruptCompressedDataException {
        if (len < 6) {
            throw error(len + " bytes cannot hold a frame header");
        }
        int magic = le(in, off, 4, len);
        if (magic != MAGIC) {
            throw error(String.format("bad magic 0x%08x (expected 0x%08x)", magic, MAGIC));
        }
        int descriptor = in[off + 4] & 0xFF;
        int fcsFlag = descriptor >>> 6;
        boolean singleSegment = (descriptor & 0x20) != 0;
        boolean hasChecksum = (descriptor & 0x04) != 0;
        int dictIdFlag = descriptor & 3;
        if ((descriptor & 0x08) != 0) {
            throw error("reserved bit set in the frame header descriptor");
        }
        int pos = 5;
        if (!singleSegment) {
            pos++; // Window_Descriptor
        }
        int dictIdSize = DICT_ID_SIZES[dictIdFlag];
        if (dictIdSize > 0) {
            if (le(in, off + pos, dictIdSize, len - pos) != 0) {
                throw error("frame needs a dictionary, which Btrfs never uses");
            }
            pos += dictIdSize;
        }
        int fcsSize = fcsFlag == 0 ? (singleSegment ? 1 : 0) : FCS_SIZES[fcsFlag];
        long contentSize = -1;
        if (fcsSize > 0) {
            if (pos + fcsSize > len) {
                throw error("frame header truncated");
            }
            contentSize = 0;
            for (int i = fcsSize - 1; i >= 0; i--) {
                contentSize = (contentSize << 8) | (in[off + pos + i] & 0xFF);
            }
            if (fcsSize == 2) {
                contentSize += 256;
            }
            pos += fcsSize;
        }
        while (true) {
            if (pos + 3 > len) {
                throw error("frame truncated: no end of the last block within " + len + " bytes");
            }
            int header = le(in, off + pos, 3, len - pos);
            pos += 3;
            boolean last = (header & 1) != 0;
            int type = (header >>> 1) & 3;
            int size = header >>> 3;
            if (type == 3) {
                throw error("reserved block type at offset " + (pos - 3));
            }
            if (size > MAX_BLOCK_SIZE) {
                throw error("block of " + size + " bytes exceeds the 128 KiB maximum");
            }
            int stored = type == 1 ? 1 : size; // an RLE block stores one byte
            if (stored > len - pos) {
                throw error("frame truncated: block of " + stored + " bytes at offset " + pos + " ends past " + len);
            }
            pos += stored;
            if (last) {
                break;
            }
        }
        if (hasChecksum) {
            if (pos + 4 > len) {
                throw error("frame truncated: content checksum missing");
            }
            pos += 4;
        }
        return new ZstdFrame(pos, contentSize);
    }

    private static int le(byte[] in, int at, int bytes, int available) throws CorruptCompressedDataException {
        if (bytes > available) {
            throw error("frame header truncated");
        }
        int v = 0;
        for (int i = bytes - 1; i >= 0; i--) {
            v = (v << 8) | (in[at + i] & 0xFF);
        }
        return v;
    }

    private static CorruptCompressedDataException error(String problem) {
        return new CorruptCompressedDataException("corrupt zstd frame: " + problem);
    }
}
