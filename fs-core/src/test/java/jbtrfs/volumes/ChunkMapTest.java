package jbtrfs.volumes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.MalformedItemException;
import jbtrfs.format.Stripe;

/**
 * Chunk items against the kernel's rules for a valid chunk, and chunk stripes against the device's end: the good
 * SINGLE and DUP chunks pass, and each spoiled field is named.
 */
class ChunkMapTest {
    private static final long MIB = 1 << 20;
    private static final int SECTOR = 4096;

    @Test
    void valid_chunks_pass() {
        ChunkMap map = new ChunkMap();
        map.addChecked(13 * MIB, item(8 * MIB, BlockGroupFlags.DATA, 1, 13 * MIB), SECTOR);
        map.addChecked(22 * MIB, item(8 * MIB, BlockGroupFlags.SYSTEM | BlockGroupFlags.DUP, 2, 22 * MIB), SECTOR);
        assertEquals(2, map.chunks().size());
        assertNull(map.stripePastEnd(1, 38 * MIB));
    }

    @Test
    void eachBadField_isNamed() {
        long data = BlockGroupFlags.DATA;
        assertProblem(13 * MIB, item(0, data, 1, 0), "length 0 is not a non-zero multiple of 4096");
        assertProblem(13 * MIB, item(-4096L, data, 1, 0), "wraps past 2^64");
        assertProblem(13 * MIB, item(8 * MIB + 512, data, 1, 0), "is not a non-zero multiple of 4096");
        assertProblem(13 * MIB + 512, item(8 * MIB, data, 1, 0), "is not sector-aligned");
        assertProblem(-4 * MIB, item(8 * MIB, data, 1, 0), "wraps past 2^64");
        assertProblem(13 * MIB, new ChunkItem(8 * MIB, 2, 4096, data, SECTOR, SECTOR, SECTOR, 1, 0, stripes(1, 0)),
                "stripe_len 4096, expected 65536");
        assertProblem(13 * MIB, new ChunkItem(8 * MIB, 2, 65536, data, SECTOR, SECTOR, 8192, 1, 0, stripes(1, 0)),
                "sector_size 8192, expected 4096");
        assertProblem(13 * MIB, item(8 * MIB, 0, 1, 0), "type 0x0 is not one of DATA");
        assertProblem(13 * MIB, item(8 * MIB, data | (1L << 20), 1, 0), "type 0x100001 has unknown bits");
        assertProblem(13 * MIB, item(8 * MIB, data | BlockGroupFlags.DUP | BlockGroupFlags.RAID1, 2, 0),
                "has more than one profile");
        assertProblem(13 * MIB, item(8 * MIB, data | BlockGroupFlags.DUP, 1, 0), "1 stripes, expected 2");
        assertProblem(13 * MIB, item(8 * MIB, data, 2, 0), "2 stripes, expected 1");
    }

    @Test
    void aStripePastTheEndOfTheDevice_isNamed() {
        ChunkMap map = new ChunkMap();
        map.add(13 * MIB, item(8 * MIB, BlockGroupFlags.DATA, 1, 13 * MIB));
        map.add(30 * MIB, item(32 * MIB, BlockGroupFlags.METADATA | BlockGroupFlags.DUP, 2, 38 * MIB));
        // the DUP chunk's copies lie at 38-70 and 70-102 MiB
        assertNull(map.stripePastEnd(1, 102 * MIB));
        assertEquals("chunk at logical " + 30 * MIB + ": stripe 1 ends at physical " + 102 * MIB
                + ", past the end of the device (" + 101 * MIB + " bytes)", map.stripePastEnd(1, 101 * MIB));
        assertNull(map.stripePastEnd(2, 1), "stripes of another device are not this device's");
    }

    private static void assertProblem(long logical, ChunkItem item, String says) {
        String problem = assertThrows(MalformedItemException.class, () -> new ChunkMap().addChecked(logical, item,
                SECTOR)).getMessage();
        assertTrue(problem.startsWith("chunk at " + Long.toUnsignedString(logical) + ": ") && problem.contains(says),
                problem);
    }

    /** A chunk whose stripes lie one after another from {@code physical}, each {@code length} long. */
    private static ChunkItem item(long length, long type, int stripes, long physical) {
        List<Stripe> s = new ArrayList<>();
        for (int i = 0; i < stripes; i++) s.add(new Stripe(1, physical + i * length, new byte[16]));
        return new ChunkItem(length, 2, 65536, type, SECTOR, SECTOR, SECTOR, stripes, 0, s);
    }

    private static List<Stripe> stripes(int n, long physical) {
        List<Stripe> s = new ArrayList<>();
        for (int i = 0; i < n; i++) s.add(new Stripe(1, physical, new byte[16]));
        return s;
    }
}
