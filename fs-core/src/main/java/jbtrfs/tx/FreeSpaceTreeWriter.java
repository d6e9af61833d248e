package jbtrfs.tx;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NavigableMap;

import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.FreeSpaceInfo;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;

/**
 * A block group's items in the free-space tree, brought to its free space after commit: FREE_SPACE_EXTENT items,
 * or FREE_SPACE_BITMAP items once the extents pass the kernel's threshold (and back below the lower one), as
 * free-space-tree.c converts them. Only the items that differ change (a full rewrite would copy and split leaves on
 * every settle round).
 */
final class FreeSpaceTreeWriter {
    /** Bytes of one bitmap item (BTRFS_FREE_SPACE_BITMAP_SIZE): 2048 sectors. */
    static final int BITMAP_BYTES = 256;
    private static final int ITEM_HEADER = 25;

    private final Transaction tx;
    private final int sectorsize;
    /** Groups whose items this commit already rewrote from scratch (a rebuild does each once). */
    private final java.util.Set<Long> rebuilt = new java.util.HashSet<>();

    FreeSpaceTreeWriter(Transaction tx, int sectorsize) {
        this.tx = tx;
        this.sectorsize = sectorsize;
    }

    /**
     * {high, low}: extents past high turn into bitmaps, bitmaps under low turn back into extents (the kernel's
     * bitmap_high_thresh and bitmap_low_thresh: bitmaps win once the extent items would take more room).
     */
    long[] thresholds(long length) {
        long range = (long) sectorsize * BITMAP_BYTES * 8;
        long bitmaps = (length + range - 1) / range;
        long high = bitmaps * (ITEM_HEADER + BITMAP_BYTES) / ITEM_HEADER;
        return new long[] {high, high > 100 ? high - 100 : 0};
    }

    /**
     * Updates {@code bg}'s items; returns whether anything changed. The first time in a mount, and whenever the
     * group switches between extents and bitmaps or is rebuilt, every item of the group is rewritten; after that
     * only the items that can cover the group's changed span are read and compared (as the kernel edits the tree
     * per allocation and free), so a commit costs the same on a fragmented group as on an empty one.
     */
    boolean update(BlockGroup bg) throws FsException {
        long[] span = bg.changedSpan();
        if (span == null) return false;
        NavigableMap<Long, Long> free = bg.freeInTree();
        TreeRoot root = tx.root(ObjectIds.FREE_SPACE_TREE);
        Key infoKey = new Key(bg.start(), KeyType.FREE_SPACE_INFO, bg.length());
        Cursor ic = tx.tree(ObjectIds.FREE_SPACE_TREE).find(infoKey);
        FreeSpaceInfo info = ic == null ? null : FreeSpaceInfo.read(ic.buffer(), ic.dataOffset());
        boolean rebuild = tx.rebuildsFreeSpaceTree() && rebuilt.add(bg.start());
        long[] t = thresholds(bg.length());
        boolean wasBitmaps = info != null && info.usingBitmaps();
        boolean bitmaps = wasBitmaps ? free.size() >= t[1] : free.size() > t[0];
        long[] window = {bg.start(), bg.end()};
        if (!rebuild && info != null && bitmaps == wasBitmaps && bg.treeItemsWhole()) {
            window = bitmaps ? bitmapWindow(bg, span) : extentWindow(free, span);
        }
        Map<Key, byte[]> have = new LinkedHashMap<>();
        Cursor c = tx.tree(ObjectIds.FREE_SPACE_TREE).seek(new Key(window[0], 0, 0));
        while (c.valid() && Long.compareUnsigned(c.key().objectid(), window[1]) < 0) {
            Key k = c.key();
            if (k.type() == KeyType.FREE_SPACE_EXTENT || k.type() == KeyType.FREE_SPACE_BITMAP) {
                byte[] d = new byte[c.dataSize()];
                c.buffer().get(c.dataOffset(), d);
                have.put(k, d);
            }
            c.next();
        }
        if (rebuild) {
            // clear_cache: distrust what the tree holds, delete the group's items and write them anew
            for (Key k : have.keySet()) tx.editor().delete(root, k);
            if (info != null) tx.editor().delete(root, infoKey);
            have.clear();
            info = null;
        }
        Map<Key, byte[]> want = bitmaps ? bitmapItems(bg, free, window) : extentItems(free, window);
        FreeSpaceInfo wantInfo = new FreeSpaceInfo(free.size(), bitmaps ? FreeSpaceInfo.FLAG_USING_BITMAPS : 0);
        bg.treeItemsWritten();
        if (wantInfo.equals(info) && sameItems(have, want)) return false;
        for (Map.Entry<Key, byte[]> e : have.entrySet()) {
            if (!want.containsKey(e.getKey())) tx.editor().delete(root, e.getKey());
        }
        for (Map.Entry<Key, byte[]> e : want.entrySet()) {
            byte[] old = have.get(e.getKey());
            if (old == null || !Arrays.equals(old, e.getValue())) tx.editor().put(root, e.getKey(), e.getValue());
        }
        if (!wantInfo.equals(info)) tx.editor().put(root, infoKey, wantInfo.encode());
        return true;
    }

    /**
     * The addresses whose extent items may differ: the span widened to the free ranges touching its ends. A free
     * range that held or touched an end before the change keeps its part outside the span, so it started (ends)
     * where the range touching that end now starts (ends).
     */
    static long[] extentWindow(NavigableMap<Long, Long> free, long[] span) {
        long from = span[0];
        long to = span[1];
        Map.Entry<Long, Long> f = free.floorEntry(from);
        if (f != null && f.getValue() >= from) from = f.getKey();
        Map.Entry<Long, Long> t = free.floorEntry(to);
        if (t != null && t.getValue() >= to) to = t.getValue();
        return new long[] {from, to};
    }

    /** The bitmap items' ranges that hold the span. */
    private long[] bitmapWindow(BlockGroup bg, long[] span) {
        long range = (long) sectorsize * BITMAP_BYTES * 8;
        long from = bg.start() + (span[0] - bg.start()) / range * range;
        long to = Math.min(bg.end(), bg.start() + (span[1] - bg.start() + range - 1) / range * range);
        return new long[] {from, to};
    }

    /** The extent items of the free ranges that start in the window. */
    private static Map<Key, byte[]> extentItems(NavigableMap<Long, Long> free, long[] window) {
        Map<Key, byte[]> out = new LinkedHashMap<>();
        for (Map.Entry<Long, Long> r : free.subMap(window[0], true, window[1], false).entrySet()) {
            out.put(new Key(r.getKey(), KeyType.FREE_SPACE_EXTENT, r.getValue() - r.getKey()), new byte[0]);
        }
        return out;
    }

    /**
     * The bitmap items of the window, one per 2048 sectors of the group; bit i (little-endian order) set when
     * sector i is free.
     */
    private Map<Key, byte[]> bitmapItems(BlockGroup bg, NavigableMap<Long, Long> free, long[] window) {
        long range = (long) sectorsize * BITMAP_BYTES * 8;
        Map<Key, byte[]> out = new LinkedHashMap<>();
        for (long start = window[0]; start < window[1]; start += range) {
            long end = Math.min(start + range, bg.end());
            byte[] bits = new byte[(int) (((end - start) / sectorsize + 7) / 8)];
            Long first = free.floorKey(start);
            for (Map.Entry<Long, Long> r : free.subMap(first != null ? first : start, true, end, false).entrySet()) {
                long from = Math.max(start, r.getKey());
                long to = Math.min(end, r.getValue());
                if (from < to) setBits(bits, (from - start) / sectorsize, (to - start) / sectorsize);
            }
            out.put(new Key(start, KeyType.FREE_SPACE_BITMAP, end - start), bits);
        }
        return out;
    }

    /** Sets bits [from, to): whole bytes at once, the partial ones at the ends bit by bit. */
    static void setBits(byte[] bits, long from, long to) {
        long s = from;
        while (s < to && (s & 7) != 0) {
            bits[(int) (s >>> 3)] |= (byte) (1 << (s & 7));
            s++;
        }
        long wholeEnd = to & ~7L;
        if (s < wholeEnd) {
            Arrays.fill(bits, (int) (s >>> 3), (int) (wholeEnd >>> 3), (byte) 0xff);
            s = wholeEnd;
        }
        for (; s < to; s++) bits[(int) (s >>> 3)] |= (byte) (1 << (s & 7));
    }

    private static boolean sameItems(Map<Key, byte[]> a, Map<Key, byte[]> b) {
        if (!a.keySet().equals(b.keySet())) return false;
        for (Map.Entry<Key, byte[]> e : a.entrySet()) if (!Arrays.equals(e.getValue(), b.get(e.getKey()))) return false;
        return true;
    }
}
