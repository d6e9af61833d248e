package jbtrfs.csum;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

/** Published test vectors for each algorithm, in the byte order Btrfs stores them. */
class ChecksumTypeTest {
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
    void vectors_match_published_values() {
        for (boolean direct : new boolean[] {false, true}) {
            // CRC-32C("123456789") = 0xE3069283, stored little-endian
            assertEquals("839206e3", hex(ChecksumType.CRC32C, "123456789", direct));
            // XXH64("", seed 0) = 0xEF46DB3751D8E999
            assertEquals("99e9d85137db46ef", hex(ChecksumType.XXHASH64, "", direct));
            assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                    hex(ChecksumType.SHA256, "abc", direct));
            assertEquals("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
                    hex(ChecksumType.BLAKE2B, "abc", direct));
        }
    }

    @Test
    void matches_compares_only_the_checksum_size() {
        ByteBuffer data = ByteBuffer.wrap("123456789".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer stored = ByteBuffer.wrap(HexFormat.of().parseHex("839206e3ffffffff"));
        assertTrue(ChecksumType.CRC32C.matches(data, 0, 9, stored, 0));
        assertFalse(ChecksumType.CRC32C.matches(data, 0, 8, stored, 0));
    }

    @Test
    void codes_are_the_superblock_values() {
        assertEquals(ChecksumType.BLAKE2B, ChecksumType.fromCode(3));
        assertThrows(IllegalArgumentException.class, () -> ChecksumType.fromCode(4));
    }

    @Test
    void name_hash_matches_btrfs() {
        // values from dump-tree: DIR_ITEM key offsets of these names
        assertEquals(2378154706L, NameHash.of("default".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(411982631L, NameHash.of("f".getBytes(StandardCharsets.US_ASCII)));
    }
}
