package jbtrfs.tx;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

    /** Updates {@code bg}'s items; returns whether anything changed. */
    boolean update(BlockGroup bg) throws FsException {
        List<long[]> free = bg.freeAfterCommit();
        TreeRoot root = tx.root(ObjectIds.FREE_SPACE_TREE);
        Map<Key, byte[]> have = new LinkedHashMap<>();
        FreeSpaceInfo info = null;
        Cursor c = tx.tree(ObjectIds.FREE_SPACE_TREE).seek(new Key(bg.start(), KeyType.FREE_SPACE_INFO, 0));
        while (c.valid() && Long.compareUnsigned(c.key().objectid(), bg.end()) < 0) {
            Key k = c.key();
            if (k.type() == KeyType.FREE_SPACE_INFO && k.objectid() == bg.start()) {
                info = FreeSpaceInfo.read(c.buffer(), c.dataOffset());
            } else if (k.type() == KeyType.FREE_SPACE_EXTENT || k.type() == KeyType.FREE_SPACE_BITMAP) {
                byte[] d = new byte[c.dataSize()];
                c.buffer().get(c.dataOffset(), d);
                have.put(k, d);
            }
            c.next();
        }
        if (tx.rebuildsFreeSpaceTree() && rebuilt.add(bg.start())) {
            // clear_cache: distrust what the tree holds, delete the group's items and write them anew
            for (Key k : have.keySet()) tx.editor().delete(root, k);
            if (info != null) tx.editor().delete(root, new Key(bg.start(), KeyType.FREE_SPACE_INFO, bg.length()));
            have.clear();
            info = null;
        }
        long[] t = thresholds(bg.length());
        boolean wasBitmaps = info != null && info.usingBitmaps();
        boolean bitmaps = wasBitmaps ? free.size() >= t[1] : free.size() > t[0];
        Map<Key, byte[]> want = bitmaps ? bitmapItems(bg, free) : extentItems(free);
        FreeSpaceInfo wantInfo = new FreeSpaceInfo(free.size(), bitmaps ? FreeSpaceInfo.FLAG_USING_BITMAPS : 0);
        if (wantInfo.equals(info) && sameItems(have, want)) return false;
        for (Map.Entry<Key, byte[]> e : have.entrySet()) {
            if (!want.containsKey(e.getKey())) tx.editor().delete(root, e.getKey());
        }
        for (Map.Entry<Key, byte[]> e : want.entrySet()) {
            byte[] old = have.get(e.getKey());
            if (old == null || !Arrays.equals(old, e.getValue())) tx.editor().put(root, e.getKey(), e.getValue());
        }
        if (!wantInfo.equals(info)) {
            tx.editor().put(root, new Key(bg.start(), KeyType.FREE_SPACE_INFO, bg.length()), wantInfo.encode());
        }
        return true;
    }

    private static Map<Key, byte[]> extentItems(List<long[]> free) {
        Map<Key, byte[]> out = new LinkedHashMap<>();
        for (long[] r : free) out.put(new Key(r[0], KeyType.FREE_SPACE_EXTENT, r[1]), new byte[0]);
        return out;
    }

    /** One bitmap item per 2048 sectors of the group; bit i (little-endian order) set when sector i is free. */
    private Map<Key, byte[]> bitmapItems(BlockGroup bg, List<long[]> free) {
        long range = (long) sectorsize * BITMAP_BYTES * 8;
        Map<Key, byte[]> out = new LinkedHashMap<>();
        int next = 0;
        for (long start = bg.start(); start < bg.end(); start += range) {
            long len = Math.min(range, bg.end() - start);
            byte[] bits = new byte[(int) ((len / sectorsize + 7) / 8)];
            while (next < free.size() && free.get(next)[0] + free.get(next)[1] <= start) next++;
            for (int i = next; i < free.size() && free.get(i)[0] < start + len; i++) {
                long from = Math.max(start, free.get(i)[0]);
                long to = Math.min(start + len, free.get(i)[0] + free.get(i)[1]);
                setBits(bits, (from - start) / sectorsize, (to - start) / sectorsize);
            }
            out.put(new Key(start, KeyType.FREE_SPACE_BITMAP, len), bits);
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
