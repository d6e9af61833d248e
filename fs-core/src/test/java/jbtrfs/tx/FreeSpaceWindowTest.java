package jbtrfs.tx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

/**
 * A commit rewrites free-space extent items only inside a window around the span its changes touched: outside it,
 * the free ranges before and after the changes must be the same items, or the tree would keep stale ones.
 */
class FreeSpaceWindowTest {
    private static final int SECTORS = 512;

    @Test
    void outsideTheWindow_theFreeRangesBeforeAndAfterAreTheSame() {
        Random rnd = new Random(5);
        for (int round = 0; round < 20_000; round++) {
            boolean[] before = new boolean[SECTORS];
            for (int i = 0; i < SECTORS; i++) before[i] = rnd.nextInt(3) == 0;
            boolean[] after = before.clone();
            // a transaction's allocations and frees, all inside the span it tracks
            int from = SECTORS;
            int to = 0;
            for (int n = rnd.nextInt(4); n >= 0; n--) {
                int at = rnd.nextInt(SECTORS);
                int len = 1 + rnd.nextInt(Math.min(24, SECTORS - at));
                boolean free = rnd.nextBoolean();
                for (int i = at; i < at + len; i++) after[i] = free;
                from = Math.min(from, at);
                to = Math.max(to, at + len);
            }
            TreeMap<Long, Long> now = ranges(after);
            long[] w = FreeSpaceTreeWriter.extentWindow(now, new long[] {from, to});
            assertEquals(outside(ranges(before), w), outside(now, w), "round " + round);
        }
    }

    private static TreeMap<Long, Long> ranges(boolean[] free) {
        TreeMap<Long, Long> out = new TreeMap<>();
        for (int i = 0; i < free.length; ) {
            if (!free[i]) {
                i++;
                continue;
            }
            int j = i;
            while (j < free.length && free[j]) j++;
            out.put((long) i, (long) j);
            i = j;
        }
        return out;
    }

    /** The ranges, as "start..end", that start outside [w0, w1). */
    private static List<String> outside(TreeMap<Long, Long> ranges, long[] w) {
        List<String> out = new ArrayList<>();
        ranges.forEach((s, e) -> {
            if (s < w[0] || s >= w[1]) out.add(s + ".." + e);
        });
        return out;
    }
}
