package jbtrfs.csum;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Raw seeded CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as btrfs-progs' {@code crc32c(seed, data, len)}.
 *
 * <p>Unlike {@link java.util.zip.CRC32C} there is no inversion before or after: the caller passes the seed and gets
 * the register back. Btrfs needs that form for the name hashes ({@link NameHash}); the standard checksum of blocks
 * and data is {@code ~update(~0, data)}, which {@link ChecksumType#CRC32C} computes with the JDK's intrinsic.
 */
public final class Crc32c {
    private static final int POLY = 0x82F63B78;
    /** Slicing-by-8 tables: TABLE[k][b] is the register after feeding byte b followed by k zero bytes. */
    private static final int[][] TABLE = new int[8][256];

    static {
        for (int b = 0; b < 256; b++) {
            int crc = b;
            for (int i = 0; i < 8; i++) {
                crc = (crc >>> 1) ^ (POLY & -(crc & 1));
            }
            TABLE[0][b] = crc;
        }
        for (int b = 0; b < 256; b++) {
            for (int k = 1; k < 8; k++) {
                int prev = TABLE[k - 1][b];
                TABLE[k][b] = (prev >>> 8) ^ TABLE[0][prev & 0xFF];
            }
        }
    }

    private Crc32c() {}

    /** Feeds {@code length} bytes of {@code data} from {@code offset} into register {@code crc}; returns it. */
    public static int update(int crc, byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        int i = offset;
        int end = offset + length;
        for (; end - i >= 8; i += 8) {
            int lo = crc ^ ((data[i] & 0xFF) | (data[i + 1] & 0xFF) << 8 | (data[i + 2] & 0xFF) << 16
                    | (data[i + 3] & 0xFF) << 24);
            crc = TABLE[7][lo & 0xFF] ^ TABLE[6][(lo >>> 8) & 0xFF] ^ TABLE[5][(lo >>> 16) & 0xFF]
                    ^ TABLE[4][lo >>> 24] ^ TABLE[3][data[i + 4] & 0xFF] ^ TABLE[2][data[i + 5] & 0xFF]
                    ^ TABLE[1][data[i + 6] & 0xFF] ^ TABLE[0][data[i + 7] & 0xFF];
        }
        for (; i < end; i++) {
            crc = (crc >>> 8) ^ TABLE[0][(crc ^ data[i]) & 0xFF];
        }
        return crc;
    }

    /** Feeds all of {@code data} into register {@code crc}; returns the register. */
    public static int update(int crc, byte[] data) {
        return update(crc, data, 0, data.length);
    }

    /**
     * Feeds {@code length} bytes of {@code data} from absolute index {@code offset} into register {@code crc};
     * the buffer's position and limit are not used or changed.
     */
    public static int update(int crc, ByteBuffer data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.capacity());
        if (data.hasArray()) {
            return update(crc, data.array(), data.arrayOffset() + offset, length);
        }
        for (int i = offset, end = offset + length; i < end; i++) {
            crc = (crc >>> 8) ^ TABLE[0][(crc ^ data.get(i)) & 0xFF];
        }
        return crc;
    }

    /** Feeds the 8 little-endian bytes of {@code value} into register {@code crc}, as Btrfs hashes a {@code __le64}. */
    public static int updateLe64(int crc, long value) {
        for (int i = 0; i < 8; i++) {
            crc = (crc >>> 8) ^ TABLE[0][(crc ^ (int) (value >>> (8 * i))) & 0xFF];
        }
        return crc;
    }
}
