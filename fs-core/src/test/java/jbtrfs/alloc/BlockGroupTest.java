package jbtrfs.alloc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Random;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import jbtrfs.format.BlockGroupFlags;

/** A block group's free space: allocation, release, pinning until commit, superblock stripes. */
class BlockGroupTest {
    private static final long START = 1L << 30;
    private static final long LEN = 8L << 20;

    private static BlockGroup group() {
        BlockGroup bg = new BlockGroup(START, LEN, BlockGroupFlags.DATA);
        bg.addFree(START, LEN);
        bg.clearDirty();
        return bg;
    }

    @Test
    void pinnedSpace_isFreeOnDiskAfterCommit_butNotAllocatableBefore() {
        BlockGroup bg = group();
        long a = bg.find(1 << 20, 4096, START);
        bg.take(a, 1 << 20);
        bg.unpin();
        bg.pin(a, 1 << 20);
        // before the commit: the freed MiB is not handed out again
        assertEquals(LEN - (1 << 20), bg.freeBytes());
        assertEquals(-1, bg.find(LEN, 4096, START));
        // on disk after the commit it is free
        assertEquals(0, bg.usedAfterCommit());
        assertEquals(1, bg.freeAfterCommit().size());
        bg.unpin();
        assertEquals(LEN, bg.freeBytes());
        assertEquals(START, bg.find(LEN, 4096, START));
    }

    @Test
    void randomTakeAndRelease_matchAModel_rangesStayMerged() {
        BlockGroup bg = group();
        TreeSet<Long> used = new TreeSet<>();
        Random rnd = new Random(5);
        for (int i = 0; i < 2000; i++) {
            if (used.isEmpty() || rnd.nextBoolean()) {
                long at = bg.find(4096, 4096, START + rnd.nextInt((int) (LEN / 4096)) * 4096L);
                if (at < 0) continue;
                bg.take(at, 4096);
                used.add(at);
            } else {
                Long at = used.pollFirst();
                bg.release(at, 4096);
            }
        }
        assertEquals(LEN - used.size() * 4096L, bg.freeBytes());
        // free ranges are exactly the gaps between used sectors, merged
        List<long[]> free = bg.freeAfterCommit();
        long at = START;
        int i = 0;
        for (long u : used) {
            if (u > at) assertArrayEquals(new long[] {at, u - at}, free.get(i++));
            at = u + 4096;
        }
        if (at < START + LEN) assertArrayEquals(new long[] {at, START + LEN - at}, free.get(i++));
        assertEquals(i, free.size());
    }

    @Test
    void superblockStripe_isNeitherFreeNorUsed() {
        BlockGroup bg = group();
        bg.excludeSuper(START + (3 << 20), 64 * 1024);
        assertEquals(LEN - 64 * 1024, bg.freeBytes());
        assertEquals(0, bg.usedAfterCommit());
        assertEquals(2, bg.freeAfterCommit().size());
        assertThrows(IllegalStateException.class, () -> bg.take(START + (3 << 20), 4096));
    }

    @Test
    void alignment_isHonoured() {
        BlockGroup bg = group();
        bg.take(START, 4096);
        long at = bg.find(16384, 16384, START);
        assertEquals(0, (at - 0) % 16384);
        assertEquals(START + 16384, at);
    }
}
