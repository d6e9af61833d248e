package jbtrfs.alloc;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

import jbtrfs.format.BlockGroupFlags;

/**
 * One block group in memory (≈ btrfs_block_group): its free ranges for allocation, and the ranges freed in the
 * running transaction, which stay unusable (pinned) until the commit that frees them on disk is done.
 */
public final class BlockGroup {
    private final long start;
    private final long length;
    private final long flags;
    /** Free ranges usable now: start -> end (exclusive), never adjacent. */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    /** Freed in the running transaction: free on disk after the commit, not before. */
    private final TreeMap<Long, Long> pinned = new TreeMap<>();
    /**
     * Free after the commit as the free-space tree records it: free, pinned and the superblock stripes (the kernel
     * keeps those free in the tree and leaves them out when it loads it), merged.
     */
    private final TreeMap<Long, Long> freeInTree = new TreeMap<>();
    private long freeBytes;
    private long pinnedBytes;
    /** Bytes set aside for superblock copies: neither free nor used. */
    private long bytesSuper;
    private boolean dirty;
    private boolean isNew;
    /** The ranges whose state after the commit changed in the running transaction (start -> end, merged). */
    private final TreeMap<Long, Long> changed = new TreeMap<>();
    private boolean treeItemsWhole;

    BlockGroup(long start, long length, long flags) {
        this.start = start;
        this.length = length;
        this.flags = flags;
    }

    public long start() { return start; }

    public long length() { return length; }

    public long end() { return start + length; }

    public long flags() { return flags; }

    /** Whether its free space or used bytes changed in the running transaction. */
    public boolean dirty() { return dirty; }

    /** Whether the running transaction created it (no items on disk yet). */
    public boolean isNew() { return isNew; }

    void markNew() {
        isNew = true;
        changed(start, length);
    }

    /**
     * Its free-space record is missing or untrusted (a v1 cache, or the free-space tree's items on a rebuild): the
     * next commit writes it again, as for a changed group.
     */
    public void markForRewrite() {
        changed(start, length);
        treeItemsWhole = false;
    }

    void clearDirty() {
        dirty = false;
        isNew = false;
        changed.clear();
    }

    private void changed(long at, long size) {
        dirty = true;
        // a range freed or taken again overlaps one already here: fold them into one
        long s = at;
        long e = at + size;
        Map.Entry<Long, Long> before = changed.floorEntry(s);
        if (before != null && before.getValue() >= s) s = before.getKey();
        for (Map.Entry<Long, Long> r = changed.ceilingEntry(s); r != null && r.getKey() <= e;
             r = changed.ceilingEntry(s)) {
            e = Math.max(e, r.getValue());
            changed.remove(r.getKey());
        }
        changed.put(s, e);
    }

    /**
     * The parts of the group (start -> end) where {@link #freeInTree()} may differ from what the last commit wrote;
     * empty when nothing changed.
     */
    public NavigableMap<Long, Long> changedRanges() { return Collections.unmodifiableNavigableMap(changed); }

    /** The free ranges (start -> end) the free-space tree holds once the running transaction commits. */
    public NavigableMap<Long, Long> freeInTree() { return Collections.unmodifiableNavigableMap(freeInTree); }

    /**
     * Whether this mount wrote the group's free-space tree items whole: from then on they differ from
     * {@link #freeInTree()} only inside {@link #changedRanges()}, whatever form they had on disk before.
     */
    public boolean treeItemsWhole() { return treeItemsWhole; }

    public void treeItemsWritten() { treeItemsWhole = true; }

    public boolean holds(long type) { return (flags & type & BlockGroupFlags.TYPE_MASK) != 0; }

    /** Bytes usable for allocation now. */
    public long freeBytes() { return freeBytes; }

    /** Bytes allocated as the disk will say after the running transaction commits. */
    public long usedAfterCommit() { return length - freeBytes - pinnedBytes - bytesSuper; }

    /** Bytes not available for allocation now (used, pinned until commit); what statfs counts as used. */
    public long usedNow() { return length - freeBytes - bytesSuper; }

    /** Takes a superblock copy's stripe out of the free space (≈ exclude_super_stripes). */
    void excludeSuper(long at, long size) {
        long s = Math.max(at, start);
        long e = Math.min(at + size, end());
        for (long p = s; p < e; ) {
            Map.Entry<Long, Long> f = free.floorEntry(p);
            if (f != null && f.getValue() > p) {
                long to = Math.min(e, f.getValue());
                cut(free, p, to - p);
                freeBytes -= to - p;
                bytesSuper += to - p;
                p = to;
            } else {
                Map.Entry<Long, Long> next = free.higherEntry(p);
                if (next == null || next.getKey() >= e) break;
                p = next.getKey();
            }
        }
    }

    /** The ranges free for allocation now, {start, length}, ordered: free on disk and in the running transaction. */
    public List<long[]> freeNow() {
        List<long[]> out = new ArrayList<>(free.size());
        for (Map.Entry<Long, Long> e : free.entrySet()) out.add(new long[] {e.getKey(), e.getValue() - e.getKey()});
        return out;
    }

    /** The free ranges as the disk will hold them after commit (free plus pinned), merged and ordered. */
    public List<long[]> freeAfterCommit() {
        TreeMap<Long, Long> all = new TreeMap<>(free);
        for (Map.Entry<Long, Long> e : pinned.entrySet()) addRange(all, e.getKey(), e.getValue());
        List<long[]> out = new ArrayList<>(all.size());
        for (Map.Entry<Long, Long> e : all.entrySet()) out.add(new long[] {e.getKey(), e.getValue() - e.getKey()});
        return out;
    }

    /** The lowest free range of {@code size} bytes aligned to {@code align} at or after {@code hint}, or -1. */
    long find(long size, long align, long hint) {
        long found = findFrom(size, align, Math.max(hint, start));
        return found >= 0 || hint <= start ? found : findFrom(size, align, start);
    }

    private long findFrom(long size, long align, long from) {
        Map.Entry<Long, Long> floor = free.floorEntry(from);
        Iterable<Map.Entry<Long, Long>> tail = free.tailMap(floor != null && floor.getValue() > from
                ? floor.getKey() : from, true).entrySet();
        for (Map.Entry<Long, Long> e : tail) {
            long s = Math.max(e.getKey(), from);
            s = (s + align - 1) / align * align;
            if (s + size <= e.getValue()) return s;
        }
        return -1;
    }

    /** The largest free range's length. */
    long largestFree() {
        long best = 0;
        for (Map.Entry<Long, Long> e : free.entrySet()) best = Math.max(best, e.getValue() - e.getKey());
        return best;
    }

    /** Whether all of [at, at+size) is free for allocation now. */
    boolean isFree(long at, long size) {
        Map.Entry<Long, Long> e = free.floorEntry(at);
        return e != null && e.getValue() >= at + size;
    }

    /** Marks [at, at+size) used; it must be free. */
    void take(long at, long size) {
        cut(free, at, size);
        cut(freeInTree, at, size);
        freeBytes -= size;
        changed(at, size);
    }

    /** Removes [at, at+size) from one range of {@code map} that holds all of it. */
    private void cut(TreeMap<Long, Long> map, long at, long size) {
        Map.Entry<Long, Long> e = map.floorEntry(at);
        if (e == null || e.getValue() < at + size) {
            throw new IllegalStateException("taking " + at + "+" + size + " that is not free in block group " + start);
        }
        map.remove(e.getKey());
        if (e.getKey() < at) map.put(e.getKey(), at);
        if (at + size < e.getValue()) map.put(at + size, e.getValue());
    }

    /** Returns [at, at+size) to the free ranges at once (it was never committed as used). */
    void release(long at, long size) {
        addRange(free, at, at + size);
        addRange(freeInTree, at, at + size);
        freeBytes += size;
        changed(at, size);
    }

    /** Frees [at, at+size) when the running transaction commits. */
    void pin(long at, long size) {
        addRange(pinned, at, at + size);
        addRange(freeInTree, at, at + size);
        pinnedBytes += size;
        changed(at, size);
    }

    /** After a commit: what was pinned is free for allocation. */
    void unpin() {
        for (Map.Entry<Long, Long> e : pinned.entrySet()) addRange(free, e.getKey(), e.getValue());
        freeBytes += pinnedBytes;
        pinned.clear();
        pinnedBytes = 0;
    }

    private static void addRange(TreeMap<Long, Long> map, long s, long e) {
        Map.Entry<Long, Long> before = map.floorEntry(s);
        if (before != null && before.getValue() > s) {
            throw new IllegalStateException("range " + s + ".." + e + " overlaps " + before.getKey() + ".."
                    + before.getValue());
        }
        if (before != null && before.getValue() == s) {
            s = before.getKey();
            map.remove(before.getKey());
        }
        Long afterEnd = map.get(e);
        Map.Entry<Long, Long> ceil = map.ceilingEntry(s);
        if (ceil != null && ceil.getKey() < e) {
            throw new IllegalStateException("range " + s + ".." + e + " overlaps " + ceil.getKey());
        }
        if (afterEnd != null) {
            map.remove(e);
            e = afterEnd;
        }
        map.put(s, e);
    }

    /** Seeds a free range at load time. */
    void addFree(long at, long size) {
        addRange(free, at, at + size);
        addRange(freeInTree, at, at + size);
        freeBytes += size;
    }
}
