package jbtrfs.csum;

/**
 * Raw CRC32C (Castagnoli, reflected) with a caller's seed and no final inversion: what the kernel's crc32c(seed,
 * data, len) returns, which Btrfs uses for name hashes. {@link java.util.zip.CRC32C} cannot take a seed.
 */
public final class Crc32c {
    private static final int[] TABLE = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
            TABLE[i] = c;
        }
    }

    private Crc32c() {
    }

    /** Continues {@code crc} over {@code data}. */
    public static int update(int crc, byte[] data) {
        int c = crc;
        for (byte b : data) c = TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
        return c;
    }

    /** Continues {@code crc} over the 8 little-endian bytes of {@code v}. */
    public static int updateLong(int crc, long v) {
        int c = crc;
        for (int i = 0; i < 8; i++) c = TABLE[(c ^ (int) (v >>> (8 * i))) & 0xff] ^ (c >>> 8);
        return c;
    }
}
