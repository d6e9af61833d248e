package jbtrfs.csum;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.zip.CRC32C;

import org.bouncycastle.crypto.digests.Blake2bDigest;

import net.openhft.hashing.LongHashFunction;

/**
 * The superblock's csum_type: how tree blocks and data sectors are checksummed. Btrfs stores every checksum in a
 * 32-byte field (tree block headers, superblocks) or packed at {@link #size()} bytes (the csum tree), little-endian
 * for the integer ones. Thread-safe.
 */
public enum ChecksumType {
    CRC32C(0, 4, "crc32c"),
    XXHASH64(1, 8, "xxhash64"),
    SHA256(2, 32, "sha256"),
    BLAKE2B(3, 32, "blake2b");

    /** Bytes of the checksum field in headers and superblocks. */
    public static final int MAX_SIZE = 32;

    private static final LongHashFunction XXH64 = LongHashFunction.xx(0);
    private static final ThreadLocal<CRC32C> CRC = ThreadLocal.withInitial(CRC32C::new);
    private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    });
    private static final ThreadLocal<Blake2bDigest> BLAKE = ThreadLocal.withInitial(() -> new Blake2bDigest(256));
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[MAX_SIZE]);

    private final int code;
    private final int size;
    private final String displayName;

    ChecksumType(int code, int size, String displayName) {
        this.code = code;
        this.size = size;
        this.displayName = displayName;
    }

    /** The csum_type value in the superblock. */
    public int code() { return code; }

    /** Bytes of one checksum. */
    public int size() { return size; }

    /** The name btrfs-progs prints. */
    public String displayName() { return displayName; }

    /** The type with superblock code {@code code}; IllegalArgumentException for an unknown one. */
    public static ChecksumType fromCode(int code) {
        for (ChecksumType t : values()) {
            if (t.code == code) return t;
        }
        throw new IllegalArgumentException("unknown checksum type " + code);
    }

    /** Writes the checksum of {@code length} bytes of {@code data} from {@code offset} into {@code out32}, zero-padded. */
    public void compute(ByteBuffer data, int offset, int length, byte[] out32) {
        ByteBuffer region = data.duplicate().limit(offset + length).position(offset);
        Arrays.fill(out32, (byte) 0);
        switch (this) {
            case CRC32C -> {
                CRC32C crc = CRC.get();
                crc.reset();
                crc.update(region);
                putLittleEndian(out32, crc.getValue(), 4);
            }
            case XXHASH64 -> {
                // the library reaches into JDK internals for direct buffers; hash heap bytes only
                if (region.hasArray()) {
                    putLittleEndian(out32, XXH64.hashBytes(region.array(), region.arrayOffset() + region.position(),
                            region.remaining()), 8);
                } else {
                    byte[] copy = new byte[region.remaining()];
                    region.get(copy);
                    putLittleEndian(out32, XXH64.hashBytes(copy), 8);
                }
            }
            case SHA256 -> {
                MessageDigest sha = SHA.get();
                sha.reset();
                sha.update(region);
                System.arraycopy(sha.digest(), 0, out32, 0, 32);
            }
            case BLAKE2B -> {
                Blake2bDigest blake = BLAKE.get();
                blake.reset();
                if (region.hasArray()) {
                    blake.update(region.array(), region.arrayOffset() + region.position(), region.remaining());
                } else {
                    byte[] copy = new byte[region.remaining()];
                    region.get(copy);
                    blake.update(copy, 0, copy.length);
                }
                blake.doFinal(out32, 0);
            }
        }
    }

    /** Whether the checksum of the region equals the {@link #size()} bytes stored at {@code storedOffset}. */
    public boolean matches(ByteBuffer data, int offset, int length, ByteBuffer stored, int storedOffset) {
        byte[] got = SCRATCH.get();
        compute(data, offset, length, got);
        for (int i = 0; i < size; i++) {
            if (got[i] != stored.get(storedOffset + i)) return false;
        }
        return true;
    }

    private static void putLittleEndian(byte[] out, long v, int bytes) {
        for (int i = 0; i < bytes; i++) out[i] = (byte) (v >>> (8 * i));
    }
}
