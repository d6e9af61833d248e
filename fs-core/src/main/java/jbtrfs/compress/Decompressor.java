package jbtrfs.compress;

import java.io.IOException;
import java.nio.ByteBuffer;

/** TEMPORARY STUB (lead's local copy until the codecs branch lands). */
public final class Decompressor {
    private Decompressor() { }
    public static void decompress(CompressionType type, ByteBuffer src, byte[] dst, int dstLength, int sectorSize)
            throws IOException {
        if (type != CompressionType.ZLIB) throw new IOException("stub: " + type);
        java.util.zip.Inflater inf = new java.util.zip.Inflater();
        try {
            inf.setInput(src.duplicate());
            int n = 0;
            while (n < dstLength && !inf.finished()) {
                int k = inf.inflate(dst, n, dstLength - n);
                if (k == 0 && (inf.needsInput() || inf.needsDictionary())) break;
                n += k;
            }
            java.util.Arrays.fill(dst, n, dstLength, (byte) 0);
        } catch (java.util.zip.DataFormatException e) {
            throw new IOException("zlib: " + e.getMessage());
        } finally { inf.end(); }
    }
}
