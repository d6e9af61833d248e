package jbtrfs.compress;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Decompresses an extent's on-disk bytes (a regular extent's disk_num_bytes, or an inline payload) to exactly
 * ram_bytes. Like the kernel, output the stream does not reach stays zero; input that does not decode is a
 * {@link CorruptCompressedDataException}, never garbage and never an unchecked exception from a library.
 */
public final class Decompressor {
    private Decompressor() {
    }

    /**
     * Fills {@code dst[0, dstLength)} from {@code src} (position to limit) compressed with {@code type};
     * {@code sectorSize} matters to LZO's framing.
     */
    public static void decompress(CompressionType type, ByteBuffer src, byte[] dst, int dstLength, int sectorSize)
            throws CorruptCompressedDataException {
        byte[] in = new byte[src.remaining()];
        src.duplicate().get(in);
        Arrays.fill(dst, 0, dstLength, (byte) 0);
        try {
            switch (type) {
                case NONE -> System.arraycopy(in, 0, dst, 0, Math.min(in.length, dstLength));
                case ZLIB -> inflate(in, dst, dstLength);
                case LZO -> LzoFraming.decompress(in, dst, dstLength, sectorSize);
                case ZSTD -> ZstdFrames.decompress(in, dst, dstLength);
            }
        } catch (CorruptCompressedDataException e) {
            throw e;
        } catch (RuntimeException e) {
            // the libraries signal bad input with unchecked exceptions of their own
            throw new CorruptCompressedDataException(type.displayName() + " data does not decode: " + e, e);
        }
    }

    private static void inflate(byte[] in, byte[] dst, int dstLength) throws CorruptCompressedDataException {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(in);
            int n = 0;
            while (n < dstLength && !inflater.finished()) {
                int k = inflater.inflate(dst, n, dstLength - n);
                if (k == 0 && (inflater.needsInput() || inflater.needsDictionary())) break;
                n += k;
            }
            // as the kernel: a stream that ends before its end marker with output still wanted is an error
            if (!inflater.finished() && n < dstLength) {
                throw new CorruptCompressedDataException("zlib stream ends early after " + n + " of " + dstLength
                        + " bytes");
            }
        } catch (DataFormatException e) {
            throw new CorruptCompressedDataException("zlib data does not decode: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }
}
