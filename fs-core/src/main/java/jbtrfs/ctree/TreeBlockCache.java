package jbtrfs.ctree;

import java.util.Iterator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded cache of verified tree blocks keyed by logical bytenr, read by every FUSE worker at once: a lookup takes
 * no lock. Eviction is second-chance (CLOCK) rather than strict LRU: a hand sweeps the map, dropping blocks not used
 * since it last passed them, so a hit only sets a flag instead of reordering a list under one lock.
 */
final class TreeBlockCache {
    private final int maxBlocks;
    private final ConcurrentHashMap<Long, Entry> blocks;
    /** One thread sweeps at a time; the others go on without waiting (the bound is exceeded by a few at most). */
    private final ReentrantLock sweeping = new ReentrantLock();
    private Iterator<Entry> hand;

    private static final class Entry {
        final TreeBlock block;
        /** Used since the hand last passed (or new): spared once. A hit writes it only when it was clear. */
        volatile boolean used = true;

        Entry(TreeBlock block) {
            this.block = block;
        }
    }

    TreeBlockCache(int maxBlocks) {
        this.maxBlocks = maxBlocks;
        this.blocks = new ConcurrentHashMap<>(Math.min(maxBlocks, 1 << 16));
    }

    TreeBlock get(long bytenr) {
        Entry e = blocks.get(bytenr);
        if (e == null) return null;
        if (!e.used) e.used = true;
        return e.block;
    }

    void put(TreeBlock block) {
        blocks.put(block.bytenr(), new Entry(block));
        if (blocks.size() > maxBlocks && sweeping.tryLock()) {
            try {
                evict();
            } finally {
                sweeping.unlock();
            }
        }
    }

    /**
     * Moves the hand until the map is within its bound: each used block is spared, its flag cleared, the first unused
     * goes. At most one turn per sweep: a second would evict a block in use that no get could mark meanwhile; the map
     * then stays a block over its bound until the next put, whose sweep finds every flag cleared.
     */
    private void evict() {
        long steps = blocks.size();
        while (blocks.size() > maxBlocks && steps-- > 0) {
            if (hand == null || !hand.hasNext()) hand = blocks.values().iterator();
            if (!hand.hasNext()) return;
            Entry e = hand.next();
            if (e.used) {
                e.used = false;
            } else {
                blocks.remove(e.block.bytenr(), e);
            }
        }
    }

    int size() {
        return blocks.size();
    }
}
