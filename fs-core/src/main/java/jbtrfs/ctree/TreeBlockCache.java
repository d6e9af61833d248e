package jbtrfs.ctree;

import java.util.LinkedHashMap;
import java.util.Map;

/** A bounded least-recently-used cache of verified tree blocks keyed by logical bytenr. */
final class TreeBlockCache {
    private final Map<Long, TreeBlock> blocks;

    TreeBlockCache(int maxBlocks) {
        this.blocks = new LinkedHashMap<>(Math.min(maxBlocks, 1 << 16), 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, TreeBlock> eldest) {
                return size() > maxBlocks;
            }
        };
    }

    synchronized TreeBlock get(long bytenr) {
        return blocks.get(bytenr);
    }

    synchronized void put(TreeBlock block) {
        blocks.put(block.bytenr(), block);
    }
}
