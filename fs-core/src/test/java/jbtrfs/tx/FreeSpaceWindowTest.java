package jbtrfs.tx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

/**
 * A commit rewrites free-space extent items only inside windows around the ranges its changes touched: outside
 * them, the items the tree holds (the free ranges before) must be the free ranges after, or the tree would keep
 * stale items or miss new ones.
 */
class FreeSpaceWindowTest {
    private static final int SECTORS = 600;

    @Test
    void outsideTheWindows_theFreeRangesBeforeAndAfterAreTheSame() {
        Random rnd = new Random(5);
        for (int round = 0; round < 20_000; round++) {
            boolean[] before = new boolean[SECTORS];
            int density = 2 + rnd.nextInt(3);
            for (int i = 0; i < SECTORS; i++) before[i] = rnd.nextInt(density) == 0;
            boolean[] after = before.clone();
            // a transaction's allocations and frees, each range recorded as changed
            TreeMap<Long, Long> changed = new TreeMap<>();
            for (int n = rnd.nextInt(6); n >= 0; n--) {
                int at = rnd.nextInt(SECTORS);
                int len = 1 + rnd.nextInt(Math.min(30, SECTORS - at));
                boolean free = rnd.nextBoolean();
                for (int i = at; i < at + len; i++) after[i] = free;
                addMerged(changed, at, at + len);
            }
            TreeMap<Long, Long> old = ranges(before);
            TreeMap<Long, Long> now = ranges(after);
            List<long[]> windows = FreeSpaceTreeWriter.extentWindows(now, changed);
            assertEquals(outside(old, windows), outside(now, windows), "round " + round);
        }
    }

    private static void addMerged(TreeMap<Long, Long> map, long s, long e) {
        Map.Entry<Long, Long> before = map.floorEntry(s);
        if (before != null && before.getValue() >= s) s = before.getKey();
        for (Map.Entry<Long, Long> r = map.ceilingEntry(s); r != null && r.getKey() <= e; r = map.ceilingEntry(s)) {
            e = Math.max(e, r.getValue());
            map.remove(r.getKey());
        }
        map.put(s, e);
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

    /** The ranges, as "start..end", that start outside every window. */
    private static List<String> outside(TreeMap<Long, Long> ranges, List<long[]> windows) {
        List<String> out = new ArrayList<>();
        ranges.forEach((s, e) -> {
            for (long[] w : windows) if (s >= w[0] && s < w[1]) return;
            out.add(s + ".." + e);
        });
        return out;
    }
}
