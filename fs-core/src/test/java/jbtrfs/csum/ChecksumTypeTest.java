package jbtrfs.csum;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

class ChecksumTypeTest {
    private static byte[] csum(ChecksumType type, byte[] data) {
        byte[] out = new byte[32];
        type.compute(ByteBuffer.wrap(data), 0, data.length, out);
        return out;
    }

    private static byte[] padded(String hex) {
        byte[] out = new byte[32];
        byte[] b = HexFormat.of().parseHex(hex);
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }

    @Test
    void fromCode_codesSizesAndNames() {
        assertEquals(ChecksumType.CRC32C, ChecksumType.fromCode(0));
        assertEquals(ChecksumType.XXHASH64, ChecksumType.fromCode(1));
        assertEquals(ChecksumType.SHA256, ChecksumType.fromCode(2));
        assertEquals(ChecksumType.BLAKE2B, ChecksumType.fromCode(3));
        assertEquals(4, ChecksumType.CRC32C.size());
        assertEquals(8, ChecksumType.XXHASH64.size());
        assertEquals(32, ChecksumType.SHA256.size());
        assertEquals(32, ChecksumType.BLAKE2B.size());
        assertEquals("xxhash64", ChecksumType.XXHASH64.displayName());
        assertThrows(IllegalArgumentException.class, () -> ChecksumType.fromCode(4));
        assertThrows(IllegalArgumentException.class, () -> ChecksumType.fromCode(-1));
    }

    @Test
    void compute_publishedTestVectors() {
        byte[] abc = "abc".getBytes(StandardCharsets.US_ASCII);
        // CRC-32C("123456789") = 0xE3069283, stored little-endian.
        assertArrayEquals(padded("83920 6e3".replace(" ", "")),
                csum(ChecksumType.CRC32C, "123456789".getBytes(StandardCharsets.US_ASCII)));
        // XXH64("", seed 0) = 0xEF46DB3751D8E999, stored little-endian.
        assertArrayEquals(padded("99e9d85137db46ef"), csum(ChecksumType.XXHASH64, new byte[0]));
        // FIPS 180-2 SHA-256("abc").
        assertArrayEquals(HexFormat.of().parseHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
                csum(ChecksumType.SHA256, abc));
        // RFC 7693 lists BLAKE2b-512; BLAKE2b-256("abc") from the reference implementation (b2sum -l 256).
        assertArrayEquals(HexFormat.of().parseHex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"),
                csum(ChecksumType.BLAKE2B, abc));
    }

    @Test
    void compute_heapDirectAndSlicesAgree() {
        byte[] data = new byte[20000];
        new Random(4).nextBytes(data);
        ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data);
        ByteBuffer heapSlice = ByteBuffer.wrap(new byte[data.length + 7], 7, data.length).slice().put(data);
        for (ChecksumType type : ChecksumType.values()) {
            byte[] expected = new byte[32];
            type.compute(ByteBuffer.wrap(data), 100, 16384, expected);
            byte[] a = new byte[32];
            byte[] b = new byte[32];
            byte[] c = new byte[32];
            type.compute(direct, 100, 16384, a);
            type.compute(heapSlice, 100, 16384, b);
            type.compute(ByteBuffer.wrap(data).asReadOnlyBuffer(), 100, 16384, c); // no accessible array
            assertArrayEquals(expected, a, type + " direct");
            assertArrayEquals(expected, b, type + " heap slice");
            assertArrayEquals(expected, c, type + " read-only heap");
            for (int i = type.size(); i < 32; i++) {
                assertEquals(0, expected[i], type + " byte " + i + " must be zero");
            }
        }
    }

    @Test
    void matches_comparesOnlySizeBytes() {
        byte[] data = new byte[4096];
        new Random(5).nextBytes(data);
        for (ChecksumType type : ChecksumType.values()) {
            byte[] c = new byte[32];
            type.compute(ByteBuffer.wrap(data), 0, data.length, c);
            ByteBuffer stored = ByteBuffer.allocate(50);
            stored.position(9);
            stored.put(c, 0, type.size());
            assertTrue(type.matches(ByteBuffer.wrap(data), 0, data.length, stored, 9), type.toString());
            data[77] ^= 1;
            assertFalse(type.matches(ByteBuffer.wrap(data), 0, data.length, stored, 9), type + " after flip");
            data[77] ^= 1;
        }
    }

    @Test
    void compute_isThreadSafe() throws Exception {
        byte[][] inputs = new byte[16][];
        byte[][][] expected = new byte[16][ChecksumType.values().length][];
        Random random = new Random(6);
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = new byte[4096 + i * 100];
            random.nextBytes(inputs[i]);
            for (ChecksumType t : ChecksumType.values()) {
                expected[i][t.ordinal()] = csum(t, inputs[i]);
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int task = 0; task < 8; task++) {
                results.add(pool.submit(() -> {
                    for (int round = 0; round < 200; round++) {
                        for (int i = 0; i < inputs.length; i++) {
                            for (ChecksumType t : ChecksumType.values()) {
                                if (!Arrays.equals(expected[i][t.ordinal()], csum(t, inputs[i]))) {
                                    return false;
                                }
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : results) {
                assertTrue(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }
    /** Checksum at offset 3 of a heap or direct buffer, as lowercase hex of its {@link ChecksumType#size()} bytes. */
    private static String hex(ChecksumType t, String data, boolean direct) {
        byte[] bytes = data.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(bytes.length + 3) : ByteBuffer.allocate(bytes.length + 3);
        b.position(3);
        b.put(bytes);
        byte[] out = new byte[32];
        t.compute(b, 3, bytes.length, out);
        return HexFormat.of().formatHex(out, 0, t.size());
    }

    @Test
    void vectors_matchPublishedValues_atAnOffset() {
        for (boolean direct : new boolean[] {false, true}) {
            assertEquals("839206e3", hex(ChecksumType.CRC32C, "123456789", direct));
            assertEquals("99e9d85137db46ef", hex(ChecksumType.XXHASH64, "", direct));
            assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                    hex(ChecksumType.SHA256, "abc", direct));
            assertEquals("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
                    hex(ChecksumType.BLAKE2B, "abc", direct));
        }
    }

    @Test
    void matches_ignoresBytesPastSize() {
        ByteBuffer data = ByteBuffer.wrap("123456789".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer stored = ByteBuffer.wrap(HexFormat.of().parseHex("839206e3ffffffff"));
        assertTrue(ChecksumType.CRC32C.matches(data, 0, 9, stored, 0));
        assertFalse(ChecksumType.CRC32C.matches(data, 0, 8, stored, 0));
    }
}
