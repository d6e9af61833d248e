package jbtrfs.tx;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Changes to tree block back references made by the running transaction (≈ delayed tree refs): per block, the net
 * change of each TREE_BLOCK_REF (by root) and SHARED_BLOCK_REF (by parent block), and the extent flags to set.
 * They come from copying blocks a snapshot shares and from freeing committed blocks; the commit folds them in.
 */
final class TreeRefs {
    /** A TREE_BLOCK_REF of {@code root}, or with {@code parent} non-zero a SHARED_BLOCK_REF from that block. */
    record Ref(long root, long parent) {
        static Ref tree(long root) { return new Ref(root, 0); }

        static Ref shared(long parent) { return new Ref(0, parent); }
    }

    /** Pending changes to one tree block's extent item. */
    static final class Block {
        final int level;
        final Map<Ref, Integer> deltas = new LinkedHashMap<>();
        long setFlags;

        Block(int level) {
            this.level = level;
        }
    }

    private final Map<Long, Block> blocks = new LinkedHashMap<>();

    void change(long bytenr, int level, Ref ref, int delta) {
        blocks.computeIfAbsent(bytenr, b -> new Block(level)).deltas.merge(ref, delta, Integer::sum);
    }

    void setFlags(long bytenr, int level, long flags) {
        blocks.computeIfAbsent(bytenr, b -> new Block(level)).setFlags |= flags;
    }

    /** The pending net change of {@code bytenr}'s reference count, and the flags to set ({delta, flags}). */
    long[] pending(long bytenr) {
        Block b = blocks.get(bytenr);
        if (b == null) return new long[] {0, 0};
        long n = 0;
        for (int d : b.deltas.values()) n += d;
        return new long[] {n, b.setFlags};
    }

    boolean isEmpty() { return blocks.isEmpty(); }

    Map<Long, Block> drain() {
        Map<Long, Block> out = new LinkedHashMap<>(blocks);
        blocks.clear();
        return out;
    }
}
