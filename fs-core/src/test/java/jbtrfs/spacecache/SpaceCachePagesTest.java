package jbtrfs.spacecache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import jbtrfs.format.FreeSpaceEntry;

/**
 * A block group's free space through the v1 cache file's pages and back, as the commit writes them and the mount's
 * loader reads them ({@link SpaceCachePages#decode} is what {@link SpaceCacheLoader} runs on the file): extents
 * while they fit, 128 MiB bitmap windows when they do not, and a damaged page or a stale generation refused. The
 * byte layout itself is held against btrfs check and the kernel in {@link SpaceCacheV1Test}.
 */
class SpaceCachePagesTest {
    private static final int SECTOR = 4096;
    private static final long START = 1L << 30;
    /** A 1 GiB group: 8 bitmap windows of 128 MiB, a cache file of 4 x 16 sectors. */
    private static final long LENGTH = 1L << 30;
    private static final int PAGES = (int) (SpaceCachePages.fileSize(LENGTH, SECTOR) / SpaceCachePages.PAGE);
    private static final long GENERATION = 77;

    @Test
    void fewFreeRanges_roundTripAsExtentEntries() throws Exception {
        List<long[]> free = randomFree(new Random(1), 300, 1 << 20);
        SpaceCachePages.Encoded e = SpaceCachePages.encode(free, START, LENGTH, SECTOR, PAGES, GENERATION);
        assertNotNull(e);
        assertEquals(64, PAGES);
        assertEquals(PAGES * SpaceCachePages.PAGE, e.pages().length);
        assertEquals(free.size(), e.entries());
        assertEquals(0, e.bitmaps());
        assertRanges(free, SpaceCachePages.decode(e.pages(), e.entries(), e.bitmaps(), GENERATION, START, LENGTH,
                SECTOR));
        // page 0: a crc per page, then the generation, then the first entry
        ByteBuffer b = ByteBuffer.wrap(e.pages()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(GENERATION, b.getLong(4 * PAGES));
        FreeSpaceEntry first = FreeSpaceEntry.read(b, 4 * PAGES + 8);
        assertEquals(new FreeSpaceEntry(free.get(0)[0], free.get(0)[1], FreeSpaceEntry.TYPE_EXTENT), first);
    }

    @Test
    void fragmentedWindow_spillsIntoBitmaps_andRoundTrips() throws Exception {
        // every other sector of the second 128 MiB window free: 16384 ranges, far more than 63 pages of entries
        List<long[]> free = new ArrayList<>();
        free.add(new long[] {START, 5L << 20});
        long window = SpaceCachePages.bitmapBytes(SECTOR);
        for (long at = START + window; at < START + 2 * window; at += 2 * SECTOR) free.add(new long[] {at, SECTOR});
        free.add(new long[] {START + 3 * window + SECTOR, 7L << 20});
        SpaceCachePages.Layout layout = SpaceCachePages.layout(free, START, LENGTH, SECTOR, PAGES);
        assertNotNull(layout);
        assertEquals(1, layout.bitmaps());
        // the two extents outside the window, and the bitmap's entry
        assertEquals(3, layout.entries());
        SpaceCachePages.Encoded e = layout.encode(GENERATION);
        assertRanges(free, SpaceCachePages.decode(e.pages(), e.entries(), e.bitmaps(), GENERATION, START, LENGTH,
                SECTOR));
        assertTrue(layout.sameAs(SpaceCachePages.layout(free, START, LENGTH, SECTOR, PAGES)));
    }

    @Test
    void moreRangesThanItsPagesHold_hasNoLayout() {
        // one page: room for 240 entries and no bitmap page, so 1000 ranges cannot be written
        List<long[]> free = randomFree(new Random(2), 1000, 64 << 10);
        assertNull(SpaceCachePages.layout(free, START, LENGTH, SECTOR, 1));
        assertNotNull(SpaceCachePages.layout(free.subList(0, 240), START, LENGTH, SECTOR, 1));
        assertNull(SpaceCachePages.layout(free.subList(0, 241), START, LENGTH, SECTOR, 1));
    }

    @Test
    void damagedPage_orStaleGeneration_isRefused() {
        List<long[]> free = randomFree(new Random(3), 800, 1 << 20);
        SpaceCachePages.Encoded e = SpaceCachePages.encode(free, START, LENGTH, SECTOR, PAGES, GENERATION);
        assertNotNull(e);
        byte[] damaged = e.pages().clone();
        damaged[SpaceCachePages.PAGE + 100] ^= 1; // an entry on page 1
        SpaceCachePages.InvalidCacheException crc = assertThrows(SpaceCachePages.InvalidCacheException.class,
                () -> SpaceCachePages.decode(damaged, e.entries(), e.bitmaps(), GENERATION, START, LENGTH, SECTOR));
        assertEquals("crc mismatch on page 1", crc.getMessage());
        assertThrows(SpaceCachePages.InvalidCacheException.class, () -> SpaceCachePages.decode(e.pages(),
                e.entries(), e.bitmaps(), GENERATION + 1, START, LENGTH, SECTOR));
        // a group that does not hold the ranges: they lie outside it
        assertThrows(SpaceCachePages.InvalidCacheException.class, () -> SpaceCachePages.decode(e.pages(),
                e.entries(), e.bitmaps(), GENERATION, START + LENGTH, LENGTH, SECTOR));
    }

    /** {@code n} free ranges in the group, sector-aligned, ordered, never adjacent, each under {@code max} bytes. */
    private static List<long[]> randomFree(Random rnd, int n, int max) {
        List<long[]> out = new ArrayList<>();
        long at = START;
        long room = LENGTH / n / SECTOR * SECTOR;
        for (int i = 0; i < n; i++) {
            long gap = SECTOR * (1 + rnd.nextInt((int) Math.max(1, room / 2 / SECTOR)));
            long len = SECTOR * (1 + rnd.nextInt(Math.max(1, (int) Math.min(max, room / 2) / SECTOR)));
            out.add(new long[] {at + gap, len});
            at += room;
        }
        return out;
    }

    private static void assertRanges(List<long[]> want, List<long[]> got) {
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i)[0], got.get(i)[0], "start of range " + i);
            assertEquals(want.get(i)[1], got.get(i)[1], "length of range " + i);
        }
    }
}
