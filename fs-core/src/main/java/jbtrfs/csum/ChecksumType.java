package jbtrfs.csum;

import java.nio.ByteBuffer;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32C;

import org.bouncycastle.crypto.digests.Blake2bDigest;

import net.openhft.hashing.LongHashFunction;

/**
 * The checksum algorithms of the superblock's {@code csum_type}, each computing the bytes Btrfs stores.
 *
 * <p>A stored checksum occupies 32 bytes ({@code BTRFS_CSUM_SIZE}) in headers and the superblock, of which the first
 * {@link #size()} matter; the csum tree packs {@link #size()} bytes per sector. All methods are thread-safe: each
 * thread keeps its own digest objects, so a call allocates nothing beyond what the JDK and libraries do.
 */
public enum ChecksumType {
    /** CRC32C, stored as the little-endian u32 of the finished (inverted) CRC. */
    CRC32C(0, 4, "crc32c"),
    /** xxHash64 with seed 0, stored little-endian. */
    XXHASH64(1, 8, "xxhash64"),
    /** SHA-256. */
    SHA256(2, 32, "sha256"),
    /** BLAKE2b with a 256-bit digest, unkeyed. */
    BLAKE2B(3, 32, "blake2b");

    /** Bytes a checksum field occupies in a tree block header or the superblock. */
    public static final int CSUM_SIZE = 32;

    private static final ChecksumType[] BY_CODE = {CRC32C, XXHASH64, SHA256, BLAKE2B};
    private static final ThreadLocal<Digests> DIGESTS = ThreadLocal.withInitial(Digests::new);

    private final int code;
    private final int size;
    private final String displayName;

    ChecksumType(int code, int size, String displayName) {
        this.code = code;
        this.size = size;
        this.displayName = displayName;
    }

    /** The superblock's {@code csum_type} value. */
    public int code() { return code; }

    /** Bytes of the checksum that matter (4, 8, 32 or 32). */
    public int size() { return size; }

    /** The name btrfs-progs prints ("crc32c", "xxhash64", "sha256", "blake2b"). */
    public String displayName() { return displayName; }

    @Override
    public String toString() { return displayName; }

    /** The type for a superblock {@code csum_type}; throws IllegalArgumentException for an unknown code. */
    public static ChecksumType fromCode(int code) {
        if (code < 0 || code >= BY_CODE.length) {
            throw new IllegalArgumentException("unknown checksum type " + code);
        }
        return BY_CODE[code];
    }

    /**
     * Computes the checksum of {@code length} bytes of {@code data} from absolute index {@code offset} into
     * {@code out32[0..32)} as Btrfs stores it, zeroing the bytes past {@link #size()}. The buffer's position and
     * limit are neither used nor changed; heap and direct buffers both work.
     */
    public void compute(ByteBuffer data, int offset, int length, byte[] out32) {
        Objects.checkFromIndexSize(offset, length, data.capacity());
        if (out32.length < CSUM_SIZE) {
            throw new IllegalArgumentException("checksum output needs " + CSUM_SIZE + " bytes, got " + out32.length);
        }
        switch (this) {
            case CRC32C: {
                CRC32C crc = DIGESTS.get().crc32c;
                crc.reset();
                if (data.hasArray()) {
                    crc.update(data.array(), data.arrayOffset() + offset, length);
                } else {
                    crc.update(DIGESTS.get().view(data, offset, length));
                }
                putLe(out32, crc.getValue(), 4);
                break;
            }
            case XXHASH64: {
                long hash;
                if (data.hasArray()) {
                    hash = Xx.HASH.hashBytes(data.array(), data.arrayOffset() + offset, length);
                } else {
                    // zero-allocation-hashing reads direct buffers through sun.nio.ch.DirectBuffer, which Java 17
                    // only allows with --add-exports; copying one block into a per-thread array avoids the flag.
                    byte[] copy = DIGESTS.get().copy(data, offset, length);
                    hash = Xx.HASH.hashBytes(copy, 0, length);
                }
                putLe(out32, hash, 8);
                break;
            }
            case SHA256: {
                Digests d = DIGESTS.get();
                MessageDigest md = d.sha256();
                md.reset(); // a call that threw half-way must not leak state into this one
                if (data.hasArray()) {
                    md.update(data.array(), data.arrayOffset() + offset, length);
                } else {
                    md.update(d.view(data, offset, length));
                }
                try {
                    md.digest(out32, 0, 32);
                } catch (DigestException e) {
                    throw new IllegalStateException("sha256 digest failed", e);
                }
                break;
            }
            case BLAKE2B: {
                Digests d = DIGESTS.get();
                Blake2bDigest b2 = d.blake2b();
                b2.reset();
                if (data.hasArray()) {
                    b2.update(data.array(), data.arrayOffset() + offset, length);
                } else {
                    // BouncyCastle takes arrays only: stream the direct buffer through a per-thread scratch array.
                    byte[] scratch = d.scratch;
                    for (int done = 0; done < length; ) {
                        int n = Math.min(scratch.length, length - done);
                        data.get(offset + done, scratch, 0, n);
                        b2.update(scratch, 0, n);
                        done += n;
                    }
                }
                b2.doFinal(out32, 0);
                break;
            }
            default:
                throw new AssertionError(this);
        }
    }

    /**
     * Whether the checksum of {@code length} bytes of {@code data} from {@code offset} equals the {@link #size()}
     * bytes stored in {@code storedCsum} at absolute index {@code storedOffset}.
     */
    public boolean matches(ByteBuffer data, int offset, int length, ByteBuffer storedCsum, int storedOffset) {
        Objects.checkFromIndexSize(storedOffset, size, storedCsum.capacity());
        byte[] computed = DIGESTS.get().computed;
        compute(data, offset, length, computed);
        for (int i = 0; i < size; i++) {
            if (computed[i] != storedCsum.get(storedOffset + i)) {
                return false;
            }
        }
        return true;
    }

    private static void putLe(byte[] out, long value, int bytes) {
        for (int i = 0; i < bytes; i++) {
            out[i] = (byte) (value >>> (8 * i));
        }
        Arrays.fill(out, bytes, CSUM_SIZE, (byte) 0);
    }

    /** xxHash64, made at its first use: a crc32c filesystem never loads it. */
    private static final class Xx {
        static final LongHashFunction HASH = LongHashFunction.xx();
    }

    /**
     * One thread's digest objects and scratch space. SHA-256 and BLAKE2b are made at their first use: the JDK's
     * security providers and BouncyCastle's registrar (which starts java.util.logging) cost a mount of a crc32c
     * filesystem CPU before INIT, on every thread that checksums.
     */
    private static final class Digests {
        final CRC32C crc32c = new CRC32C();
        private MessageDigest sha256;
        private Blake2bDigest blake2b;
        final byte[] scratch = new byte[16 * 1024];
        final byte[] computed = new byte[CSUM_SIZE];
        private byte[] copyBuffer = new byte[16 * 1024];
        /**
         * The last direct buffer seen and a duplicate of it, reused so a direct-buffer call allocates no view. This
         * keeps that one buffer reachable from the thread until it checksums another.
         */
        private ByteBuffer viewSource;
        private ByteBuffer view;

        MessageDigest sha256() {
            if (sha256 == null) {
                try {
                    sha256 = MessageDigest.getInstance("SHA-256");
                } catch (NoSuchAlgorithmException e) {
                    throw new IllegalStateException("the JDK lacks SHA-256", e);
                }
            }
            return sha256;
        }

        Blake2bDigest blake2b() {
            if (blake2b == null) blake2b = new Blake2bDigest(256);
            return blake2b;
        }

        /** {@code data[offset, offset+length)} copied into a per-thread array (grown as needed). */
        byte[] copy(ByteBuffer data, int offset, int length) {
            if (copyBuffer.length < length) {
                copyBuffer = new byte[Math.max(length, 2 * copyBuffer.length)];
            }
            data.get(offset, copyBuffer, 0, length);
            return copyBuffer;
        }

        /** A view of {@code data[offset, offset+length)} with position and limit set, independent of the caller's. */
        ByteBuffer view(ByteBuffer data, int offset, int length) {
            if (viewSource != data) {
                viewSource = data;
                view = data.duplicate();
            }
            view.clear();
            view.position(offset);
            view.limit(offset + length);
            return view;
        }
    }
}
