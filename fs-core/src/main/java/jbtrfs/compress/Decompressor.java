package jbtrfs.compress;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.Adler32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import io.airlift.compress.zstd.ZstdDecompressor;

/**
 * Decompresses the data of compressed file extents exactly as the kernel reads them (fs/btrfs/zlib.c, lzo.c, zstd.c).
 *
 * <p>Two entry points because the kernel treats the two extent kinds differently when a stream yields fewer bytes than
 * {@code ram_bytes}: for a regular extent it zero-fills the rest of the read (a stream may end early, e.g. on the
 * zeros past EOF), for an inline extent it fails with EIO. Output past {@code ram_bytes} is ignored in both cases, as
 * the kernel ignores it. Corrupt input always raises {@link CorruptCompressedDataException}, never garbage and never an
 * unchecked exception from a library. Where the kernel would accept an incomplete zstd frame (input exhausted
 * mid-frame) we are stricter and fail: such an extent cannot be what the kernel wrote. Likewise we check the zlib
 * Adler-32 trailer, which the kernel always writes but never reads.
 *
 * <p>Decompression alone cannot catch every corruption (a flipped literal in an LZO or zstd stream decodes to wrong
 * bytes without a format error): callers verify the data checksums of the on-disk bytes first.
 *
 * <p>Thread-safe: each thread keeps its own Inflater, zstd decoder and scratch buffers.
 */
public final class Decompressor {
    /** Most bytes a compressed extent holds on disk ({@code BTRFS_MAX_COMPRESSED}). */
    public static final int MAX_COMPRESSED = 128 * 1024;
    /** Most bytes a compressed extent decompresses to ({@code BTRFS_MAX_UNCOMPRESSED}). */
    public static final int MAX_UNCOMPRESSED = 128 * 1024;
    /** Length of the LZO total-length and segment-length headers. */
    private static final int LZO_LEN = 4;
    /** Size of the scratch buffer output past ram_bytes is drained into. */
    private static final int SCRATCH = 16 * 1024;

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    private Decompressor() {}

    /**
     * Decompresses a regular extent: {@code src} (position to limit, not consumed) holds exactly its on-disk bytes
     * ({@code disk_num_bytes}), and {@code dst[0, dstLength)} receives the first {@code dstLength} decompressed bytes
     * ({@code ram_bytes}); a stream that ends early is followed by zeros, as the kernel does.
     */
    public static void decompress(CompressionType type, ByteBuffer src, byte[] dst, int dstLength, int sectorSize)
            throws CorruptCompressedDataException {
        run(type, src, dst, dstLength, sectorSize, false);
    }

    /**
     * Decompresses an inline extent: {@code src} (position to limit, not consumed) holds the inline payload after the
     * 21-byte item header, and {@code dst[0, dstLength)} receives {@code ram_bytes}; a stream yielding fewer bytes is
     * corrupt, as in the kernel.
     */
    public static void decompressInline(CompressionType type, ByteBuffer src, byte[] dst, int dstLength,
            int sectorSize) throws CorruptCompressedDataException {
        run(type, src, dst, dstLength, sectorSize, true);
    }

    private static void run(CompressionType type, ByteBuffer src, byte[] dst, int dstLength, int sectorSize,
            boolean inline) throws CorruptCompressedDataException {
        Objects.checkFromIndexSize(0, dstLength, dst.length);
        if (sectorSize < 512 || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size " + sectorSize + " is not a power of two >= 512");
        }
        Workspace ws = WORKSPACE.get();
        int srcLen = src.remaining();
        byte[] in;
        int inOff;
        if (src.hasArray()) {
            in = src.array();
            inOff = src.arrayOffset() + src.position();
        } else {
            in = ws.input(srcLen);
            inOff = 0;
            src.get(src.position(), in, 0, srcLen);
        }
        try {
            switch (type) {
                case NONE:
                    if (srcLen < dstLength) {
                        throw corrupt(
                                "uncompressed extent holds " + srcLen + " bytes, expected " + dstLength);
                    }
                    System.arraycopy(in, inOff, dst, 0, dstLength);
                    break;
                case ZLIB:
                    zlib(ws, in, inOff, srcLen, dst, dstLength, sectorSize, inline);
                    break;
                case LZO:
                    if (inline) {
                        lzoInline(ws, in, inOff, srcLen, dst, dstLength, sectorSize);
                    } else {
                        lzo(ws, in, inOff, srcLen, dst, dstLength, sectorSize);
                    }
                    break;
                case ZSTD:
                    zstd(ws, in, inOff, srcLen, dst, dstLength, inline);
                    break;
                default:
                    throw new AssertionError(type);
            }
        } catch (CorruptCompressedDataException e) {
            throw e;
        } catch (RuntimeException e) {
            // aircompressor signals corrupt input with MalformedInputException and may throw others; never leak them.
            throw new CorruptCompressedDataException(type + " decompression failed: " + e, e);
        }
    }

    /**
     * zlib: the kernel skips the 2-byte header when it is valid without a preset dictionary and inflates raw deflate,
     * so the Adler-32 trailer is never checked; we do the same.
     */
    private static void zlib(Workspace ws, byte[] in, int off, int len, byte[] dst, int dstLength, int sectorSize,
            boolean inline) throws CorruptCompressedDataException {
        if (len <= 2) {
            throw corrupt("zlib stream of " + len + " bytes is too short");
        }
        int cmf = in[off] & 0xFF;
        int flg = in[off + 1] & 0xFF;
        if ((cmf & 0x0F) != 8 || (flg & 0x20) != 0 || ((cmf << 8) + flg) % 31 != 0) {
            throw corrupt(String.format("bad zlib header %02x %02x", cmf, flg));
        }
        if ((cmf >>> 4) > 7) {
            throw corrupt("zlib window of 2^" + ((cmf >>> 4) + 8) + " bytes exceeds 32 KiB");
        }
        Inflater inflater = ws.inflater;
        inflater.reset();
        inflater.setInput(in, off + 2, len - 2);
        try {
            if (inline) {
                // One Z_FINISH call into a sector-sized buffer: the stream must end there and cover ram_bytes.
                byte[] buf = ws.output(Math.max(sectorSize, dstLength));
                int n = 0;
                while (!inflater.finished() && n < buf.length) {
                    int got = inflater.inflate(buf, n, buf.length - n);
                    if (got == 0 && !inflater.finished()) {
                        break; // input exhausted or a dictionary wanted: no progress possible
                    }
                    n += got;
                }
                if (!inflater.finished()) {
                    throw corrupt("inline zlib stream does not end within " + buf.length + " bytes");
                }
                if (n < dstLength) {
                    throw corrupt("inline zlib stream ends after " + n + " of " + dstLength + " bytes");
                }
                Adler32 adler = ws.adler32;
                adler.reset();
                adler.update(buf, 0, n);
                checkAdler32(inflater, in, off + len, adler.getValue());
                System.arraycopy(buf, 0, dst, 0, dstLength);
                return;
            }
            int n = 0;
            while (n < dstLength && !inflater.finished()) {
                int got = inflater.inflate(dst, n, dstLength - n);
                if (got == 0 && !inflater.finished()) {
                    throw corrupt("zlib stream truncated after " + n + " of " + dstLength
                            + " bytes (input exhausted before the end of the stream)");
                }
                n += got;
            }
            Adler32 adler = ws.adler32;
            adler.reset();
            adler.update(dst, 0, n);
            if (!inflater.finished()) {
                // ram_bytes reached before the end of the stream. The kernel stops here, but it never writes such a
                // stream (ram_bytes covers all it compressed), so we drain the rest to check the Adler-32: a
                // corrupt stream must not pass as data.
                drain(inflater, ws.output(SCRATCH), adler);
            }
            checkAdler32(inflater, in, off + len, adler.getValue());
            // The stream ended early (or exactly): the kernel zero-fills the rest of the read.
            Arrays.fill(dst, n, dstLength, (byte) 0);
        } catch (DataFormatException e) {
            throw new CorruptCompressedDataException("corrupt zlib stream: " + e.getMessage(), e);
        }
    }

    /** Inflates the rest of a stream into {@code buf} (discarded), feeding {@code adler}; bounded by extent size. */
    private static void drain(Inflater inflater, byte[] buf, Adler32 adler)
            throws DataFormatException, CorruptCompressedDataException {
        long extra = 0;
        while (!inflater.finished()) {
            int got = inflater.inflate(buf, 0, buf.length);
            if (got == 0 && !inflater.finished()) {
                throw corrupt("zlib stream truncated: input exhausted before the end of the stream");
            }
            adler.update(buf, 0, got);
            extra += got;
            if (extra > MAX_UNCOMPRESSED) {
                throw corrupt("zlib stream continues more than " + MAX_UNCOMPRESSED
                        + " bytes past ram_bytes");
            }
        }
    }

    /**
     * Verifies the Adler-32 trailer of a finished zlib stream against {@code computed}, the Adler-32 of its whole
     * output. The kernel ignores the trailer, but it always writes one (deflate with Z_FINISH), so a mismatch proves
     * corruption that would otherwise pass as data (extents without data checksums have no other guard).
     */
    private static void checkAdler32(Inflater inflater, byte[] in, int end, long computed)
            throws CorruptCompressedDataException {
        int trailer = end - inflater.getRemaining();
        if (end - trailer < 4) {
            throw corrupt("zlib stream lacks its Adler-32 trailer");
        }
        long stored = (long) (in[trailer] & 0xFF) << 24 | (in[trailer + 1] & 0xFF) << 16
                | (in[trailer + 2] & 0xFF) << 8 | (in[trailer + 3] & 0xFF);
        if (computed != stored) {
            throw corrupt(String.format(
                    "zlib Adler-32 mismatch: stored %08x, data gives %08x", stored, computed));
        }
    }

    /**
     * LZO, Btrfs framing: LE32 total length (including itself), then segments of LE32 length + LZO1X block, each
     * block at most one sector of output; a segment header never crosses a sector boundary, so when fewer than 4
     * bytes remain in a sector they are zero padding.
     */
    private static void lzo(Workspace ws, byte[] in, int off, int len, byte[] dst, int dstLength, int sectorSize)
            throws CorruptCompressedDataException {
        if (len < LZO_LEN) {
            throw corrupt("lzo extent of " + len + " bytes has no header");
        }
        int total = le32(in, off);
        // As the kernel: the total must fit the extent and leave no whole unused sector behind it.
        if (total < 0 || total > Math.min(MAX_COMPRESSED, len) || roundUp(total, sectorSize) < len) {
            throw corrupt("invalid lzo header: total length " + Integer.toUnsignedString(total)
                    + ", compressed extent " + len + " bytes");
        }
        int maxSegment = Lzo1x.worstCompress(sectorSize);
        int cur = LZO_LEN;
        int produced = 0;
        while (cur < total) {
            if (total - cur < LZO_LEN) {
                throw corrupt("lzo segment header at " + cur + " crosses the total length " + total);
            }
            int segLen = le32(in, off + cur);
            cur += LZO_LEN;
            if (segLen < 0 || segLen > maxSegment) {
                throw corrupt("lzo segment at " + (cur - LZO_LEN) + " claims "
                        + Integer.toUnsignedString(segLen) + " bytes, more than " + maxSegment);
            }
            if (segLen > total - cur) {
                throw corrupt("lzo segment at " + (cur - LZO_LEN) + " of " + segLen
                        + " bytes ends past the total length " + total);
            }
            int room = dstLength - produced;
            int got;
            if (room >= maxSegment) {
                got = ws.lzo.decompress(in, off + cur, segLen, dst, produced, maxSegment);
            } else {
                // Near the end of dst: decode into scratch, since the kernel accepts (and drops) output past ram_bytes.
                byte[] buf = ws.output(maxSegment);
                got = ws.lzo.decompress(in, off + cur, segLen, buf, 0, maxSegment);
                System.arraycopy(buf, 0, dst, produced, Math.min(got, room));
            }
            produced += got;
            if (produced >= dstLength) {
                return;
            }
            cur += segLen;
            int sectorLeft = sectorSize - cur % sectorSize;
            if (sectorLeft < LZO_LEN) {
                cur += sectorLeft;
            }
        }
        Arrays.fill(dst, produced, dstLength, (byte) 0);
    }

    /** Inline LZO: exactly one segment whose lengths account for every byte of the payload. */
    private static void lzoInline(Workspace ws, byte[] in, int off, int len, byte[] dst, int dstLength,
            int sectorSize) throws CorruptCompressedDataException {
        int maxSegment = Lzo1x.worstCompress(sectorSize);
        if (len < 2 * LZO_LEN || len > maxSegment + 2 * LZO_LEN) {
            throw corrupt("inline lzo payload of " + len + " bytes");
        }
        int total = le32(in, off);
        int segLen = le32(in, off + LZO_LEN);
        if (total != len || segLen != len - 2 * LZO_LEN) {
            throw corrupt("inline lzo lengths " + Integer.toUnsignedString(total) + "/"
                    + Integer.toUnsignedString(segLen) + " do not match a payload of " + len + " bytes");
        }
        byte[] buf = ws.output(sectorSize);
        int got = ws.lzo.decompress(in, off + 2 * LZO_LEN, segLen, buf, 0, sectorSize);
        if (got < dstLength) {
            throw corrupt("inline lzo data ends after " + got + " of " + dstLength + " bytes");
        }
        System.arraycopy(buf, 0, dst, 0, dstLength);
    }

    /** zstd: exactly one frame; the bytes after it are the padding to the sector. */
    private static void zstd(Workspace ws, byte[] in, int off, int len, byte[] dst, int dstLength, boolean inline)
            throws CorruptCompressedDataException {
        ZstdFrame frame = ZstdFrame.parse(in, off, len);
        int got;
        if (frame.contentSize >= 0 && frame.contentSize <= dstLength) {
            got = ws.zstd.decompress(in, off, frame.length, dst, 0, dstLength);
        } else {
            // Unknown or larger size: decode into scratch, bounded by the largest extent Btrfs writes.
            long bound = frame.contentSize >= 0 ? frame.contentSize : Math.max(dstLength, MAX_UNCOMPRESSED);
            if (bound > Math.max(dstLength, MAX_UNCOMPRESSED)) {
                throw corrupt("zstd frame content size " + frame.contentSize
                        + " exceeds the largest compressed extent (" + MAX_UNCOMPRESSED + " bytes)");
            }
            byte[] buf = ws.output((int) bound);
            got = ws.zstd.decompress(in, off, frame.length, buf, 0, (int) bound);
            System.arraycopy(buf, 0, dst, 0, Math.min(got, dstLength));
        }
        if (frame.contentSize >= 0 && got != frame.contentSize) {
            throw corrupt("zstd frame declares " + frame.contentSize + " bytes but holds " + got);
        }
        if (got < dstLength) {
            if (inline) {
                throw corrupt("inline zstd data ends after " + got + " of " + dstLength + " bytes");
            }
            Arrays.fill(dst, got, dstLength, (byte) 0);
        }
    }

    private static CorruptCompressedDataException corrupt(String problem) {
        return new CorruptCompressedDataException(problem);
    }

    private static int le32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    private static int roundUp(int value, int sectorSize) {
        return (int) (((long) value + sectorSize - 1) & -sectorSize);
    }

    /** One thread's decoders and scratch buffers. */
    private static final class Workspace {
        final Inflater inflater = new Inflater(true);
        final Adler32 adler32 = new Adler32();
        final ZstdDecompressor zstd = new ZstdDecompressor();
        final Lzo1x.Decoder lzo = new Lzo1x.Decoder();
        private byte[] input = new byte[0];
        private byte[] output = new byte[0];

        /** A scratch array for copying a direct source buffer, at least {@code n} bytes. */
        byte[] input(int n) {
            if (input.length < n) {
                input = new byte[n];
            }
            return input;
        }

        /** A scratch array for output that may exceed the caller's buffer, at least {@code n} bytes. */
        byte[] output(int n) {
            if (output.length < n) {
                output = new byte[n];
            }
            return output;
        }
    }
}
