package jbtrfs.tx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;

import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.ctree.BTree;
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
    /** Past this many changed ranges in a group, one pass over all its items is cheaper than a seek per range. */
    private static final int MAX_WINDOWS = 512;

    private final Transaction tx;
    private final int sectorsize;
    /** Groups whose items this commit already rewrote from scratch (a rebuild does each once). */
    private final Set<Long> rebuilt = new HashSet<>();

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
     * only the items that can cover the ranges its allocations and frees touched are read and compared (as the
     * kernel edits the tree per allocation and free), so a commit costs the same on a fragmented group as on an
     * empty one.
     */
    boolean update(BlockGroup bg) throws FsException {
        NavigableMap<Long, Long> changed = bg.changedRanges();
        if (changed.isEmpty()) return false;
        NavigableMap<Long, Long> free = bg.freeInTree();
        TreeRoot root = tx.root(ObjectIds.FREE_SPACE_TREE);
        BTree tree = tx.tree(ObjectIds.FREE_SPACE_TREE);
        Key infoKey = new Key(bg.start(), KeyType.FREE_SPACE_INFO, bg.length());
        Cursor ic = tree.find(infoKey);
        FreeSpaceInfo info = ic == null ? null : ic.decode(FreeSpaceInfo.SIZE, FreeSpaceInfo::read);
        boolean rebuild = tx.rebuildsFreeSpaceTree() && rebuilt.add(bg.start());
        long[] t = thresholds(bg.length());
        boolean wasBitmaps = info != null && info.usingBitmaps();
        boolean bitmaps = wasBitmaps ? free.size() >= t[1] : free.size() > t[0];
        List<long[]> windows;
        if (!rebuild && info != null && bitmaps == wasBitmaps && bg.treeItemsWhole()
                && changed.size() <= MAX_WINDOWS) {
            windows = bitmaps ? bitmapWindows(bg, changed) : extentWindows(free, changed);
        } else {
            windows = List.of(new long[] {bg.start(), bg.end()});
        }
        Map<Key, byte[]> have = new LinkedHashMap<>();
        Map<Key, byte[]> want = new LinkedHashMap<>();
        for (long[] w : windows) {
            Cursor c = tree.seek(new Key(w[0], 0, 0));
            while (c.valid() && Long.compareUnsigned(c.key().objectid(), w[1]) < 0) {
                Key k = c.key();
                if (k.type() == KeyType.FREE_SPACE_EXTENT || k.type() == KeyType.FREE_SPACE_BITMAP) {
                    byte[] d = new byte[c.dataSize()];
                    c.buffer().get(c.dataOffset(), d);
                    have.put(k, d);
                }
                c.next();
            }
            if (bitmaps) bitmapItems(bg, free, w, want);
            else extentItems(free, w, want);
        }
        if (rebuild) {
            // clear_cache: distrust what the tree holds, delete the group's items and write them anew
            for (Key k : have.keySet()) tx.editor().delete(root, k);
            if (info != null) tx.editor().delete(root, infoKey);
            have.clear();
            info = null;
        }
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
     * The address ranges whose extent items may differ: each changed range widened until no free range crosses or
     * touches a window's ends, overlapping or touching windows merged. An item that held or touched a changed range
     * keeps its part outside every changed range free, so it starts and ends inside the window that the free range
     * now holding that part widened: outside the windows, the items and the free ranges agree.
     */
    static List<long[]> extentWindows(NavigableMap<Long, Long> free, NavigableMap<Long, Long> changed) {
        List<long[]> windows = new ArrayList<>();
        for (Map.Entry<Long, Long> r : changed.entrySet()) windows.add(new long[] {r.getKey(), r.getValue()});
        boolean widened = true;
        while (widened) {
            widened = false;
            for (long[] w : windows) {
                Map.Entry<Long, Long> f = free.floorEntry(w[0]);
                if (f != null && f.getKey() < w[0] && f.getValue() >= w[0]) {
                    w[0] = f.getKey();
                    widened = true;
                }
                Map.Entry<Long, Long> g = free.floorEntry(w[1]);
                if (g != null && g.getValue() > w[1]) {
                    w[1] = g.getValue();
                    widened = true;
                }
            }
            windows = merged(windows);
        }
        return windows;
    }

    /** Sorted by start, overlapping or touching windows as one. */
    private static List<long[]> merged(List<long[]> windows) {
        windows.sort((a, b) -> Long.compare(a[0], b[0]));
        List<long[]> out = new ArrayList<>();
        for (long[] w : windows) {
            long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
            else out.add(w);
        }
        return out;
    }

    /** The bitmap items' ranges that hold the changed ranges, merged. */
    private List<long[]> bitmapWindows(BlockGroup bg, NavigableMap<Long, Long> changed) {
        long range = (long) sectorsize * BITMAP_BYTES * 8;
        List<long[]> windows = new ArrayList<>();
        for (Map.Entry<Long, Long> r : changed.entrySet()) {
            long from = bg.start() + (r.getKey() - bg.start()) / range * range;
            long to = Math.min(bg.end(), bg.start() + (r.getValue() - bg.start() + range - 1) / range * range);
            windows.add(new long[] {from, to});
        }
        return merged(windows);
    }

    /** Adds the extent items of the free ranges that start in the window to {@code out}. */
    private static void extentItems(NavigableMap<Long, Long> free, long[] window, Map<Key, byte[]> out) {
        for (Map.Entry<Long, Long> r : free.subMap(window[0], true, window[1], false).entrySet()) {
            out.put(new Key(r.getKey(), KeyType.FREE_SPACE_EXTENT, r.getValue() - r.getKey()), new byte[0]);
        }
    }

    /**
     * Adds the bitmap items of the window to {@code out}, one per 2048 sectors of the group; bit i (little-endian
     * order) set when sector i is free.
     */
    private void bitmapItems(BlockGroup bg, NavigableMap<Long, Long> free, long[] window, Map<Key, byte[]> out) {
        long range = (long) sectorsize * BITMAP_BYTES * 8;
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
