package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** What a logged file's next fsync must log again, as the writers report it. */
class ExtentChangesTest {
    private static final InodeId F = new InodeId(5, 257);
    private static final InodeId G = new InodeId(5, 258);

    @Test
    void changedRanges_mergeWhereTheyOverlapOrTouch_sortedBack() {
        ExtentChanges c = new ExtentChanges();
        c.logged(F, 7, 100_000);
        c.changed(F, 7, 40_960, 45_056);
        c.changed(F, 7, 8192, 12_288);
        c.changed(F, 7, 12_288, 16_384);
        c.changed(F, 7, 36_864, 41_000);
        c.changed(F, 7, 0, 0);
        ExtentChanges.Since s = c.take(F, 7);
        assertEquals(100_000, s.loggedSize());
        assertEquals(List.of(new ExtentChanges.Range(8192, 16_384), new ExtentChanges.Range(36_864, 45_056)),
                s.ranges());
    }

    @Test
    void rangeToTheEndOfTheFile_orWholeLogAsked_makesTheNextLogWhole() {
        ExtentChanges c = new ExtentChanges();
        c.logged(F, 7, 0);
        c.logged(G, 7, 0);
        c.changed(F, 7, 4096, FileOffsets.TO_END);
        c.changed(G, 7, 0, 4096);
        c.needsWholeLog(G, 7);
        assertTrue(c.take(F, 7).whole());
        assertTrue(c.take(G, 7).whole());
    }

    @Test
    void fileNotLoggedInTheTransaction_isNotFollowed() {
        ExtentChanges c = new ExtentChanges();
        c.changed(F, 7, 0, 4096);
        assertNull(c.take(F, 7), "a file's first log in a transaction is whole");
        c.logged(F, 7, 4096);
        c.changed(F, 8, 0, 4096); // the commit of 7 dropped the log
        assertNull(c.take(F, 8));
    }

    @Test
    void take_stopsFollowingUntilTheFileIsLoggedAgain() {
        ExtentChanges c = new ExtentChanges();
        c.logged(F, 7, 4096);
        c.changed(F, 7, 0, 4096);
        assertEquals(1, c.take(F, 7).ranges().size());
        c.changed(F, 7, 0, 4096);
        assertNull(c.take(F, 7), "an fsync that fell back leaves the next log whole");
        c.logged(F, 7, 4096);
        assertEquals(List.of(), c.take(F, 7).ranges());
    }

    @Test
    void manyScatteredRanges_makeTheNextLogWhole() {
        ExtentChanges c = new ExtentChanges();
        c.logged(F, 7, 0);
        for (long i = 0; i <= ExtentChanges.MAX_RANGES; i++) c.changed(F, 7, i * 8192, i * 8192 + 4096);
        assertTrue(c.take(F, 7).whole());
    }
}
