package jbtrfs.ctree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** The tree block cache every FUSE worker reads without a lock: bounded, the blocks in use kept, never a wrong one. */
class TreeBlockCacheTest {
    private static TreeBlock block(long bytenr) {
        return new TreeBlock(bytenr, ByteBuffer.allocate(16).asReadOnlyBuffer());
    }

    @Test
    void get_afterPutsOfOneBytenr_returnsTheLastBlockPut() {
        TreeBlockCache cache = new TreeBlockCache(8);
        assertNull(cache.get(4096));
        TreeBlock first = block(4096);
        TreeBlock second = block(4096);
        cache.put(first);
        assertSame(first, cache.get(4096));
        cache.put(second);
        assertSame(second, cache.get(4096));
        assertEquals(1, cache.size());
    }

    @Test
    void streamOfBlocksReadOnce_staysWithinTheBound_andKeepsTheBlocksReadBetweenPuts() {
        int max = 64;
        TreeBlockCache cache = new TreeBlockCache(max);
        List<TreeBlock> hot = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            hot.add(block(i * 16384L));
            cache.put(hot.get(i));
        }
        for (int i = 0; i < 10_000; i++) {
            cache.put(block((1000 + i) * 16384L));
            // a sweep turns once at most: a put may leave the cache a block over, the next put's sweep evicts it
            assertTrue(cache.size() <= max + 1, "cache of " + cache.size() + " blocks, bound " + max);
            // the tree's upper nodes: read by every search
            for (TreeBlock h : hot) assertSame(h, cache.get(h.bytenr()), "hot block " + h.bytenr() + " evicted");
        }
        assertTrue(cache.size() >= max && cache.size() <= max + 1, "cache of " + cache.size() + " blocks");
    }

    @Test
    void getsAndPuts_fromFourThreads_returnOnlyBlocksOfTheirBytenr_andStayNearTheBound() throws Exception {
        int max = 256;
        int threads = 4;
        TreeBlockCache cache = new TreeBlockCache(max);
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Integer>> hits = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t;
                hits.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    start.await();
                    int found = 0;
                    for (int i = 0; i < 200_000; i++) {
                        // a skewed key space: a small set searched often, a wide one read once in a while
                        long bytenr = (random.nextInt(4) == 0 ? random.nextInt(4096) : random.nextInt(64)) * 16384L;
                        TreeBlock b = cache.get(bytenr);
                        if (b == null) {
                            cache.put(block(bytenr));
                        } else {
                            assertEquals(bytenr, b.bytenr());
                            found++;
                        }
                    }
                    return found;
                }));
            }
            long total = 0;
            for (Future<Integer> f : hits) total += f.get(60, TimeUnit.SECONDS);
            // a put that finds another thread sweeping leaves its block over the bound to that sweep
            assertTrue(cache.size() <= max + threads + 1, "cache of " + cache.size() + " blocks, bound " + max);
            // the 64 blocks searched three times in four stay: most gets hit
            assertTrue(total > threads * 200_000L / 2, "hits " + total);
            for (int i = 0; i < 64; i++) {
                TreeBlock b = cache.get(i * 16384L);
                if (b != null) assertEquals(i * 16384L, b.bytenr());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
