package jbtrfs.fs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The file ranges whose extent items changed since each file's last log in the running transaction (≈ the kernel's
 * list of modified extent maps), or that a file's next log must be whole (≈ BTRFS_INODE_NEEDS_FULL_SYNC: after a
 * truncate, a clone, an inline extent). Only files logged in the transaction are followed: a file's first log in a
 * transaction is whole anyway. The writers report under the write lock; guarded all the same.
 */
final class ExtentChanges {
    /** More ranges than this and the next log is whole: one pass over the file costs less. */
    static final int MAX_RANGES = 4096;
    /** Ranges reaching past this are to the end of the file (a truncate's drop): the next log is whole. */
    private static final long FAR = 1L << 62;

    /** A file range [start, end). */
    record Range(long start, long end) {
    }

    /** What changed since a file's last log: its size then and the ranges since, or null ranges for a whole log. */
    record Since(long loggedSize, List<Range> ranges) {
        boolean whole() { return ranges == null; }
    }

    /** A followed file: its size at its last log, its changed ranges (start -> end, merged) or null when whole. */
    private static final class Followed {
        final long loggedSize;
        TreeMap<Long, Long> ranges = new TreeMap<>();

        Followed(long loggedSize) {
            this.loggedSize = loggedSize;
        }
    }

    private long transid = -1;
    private final Map<InodeId, Followed> files = new HashMap<>();

    /** {@code file}'s extent items over [from, to) changed in transaction {@code tx}. */
    synchronized void changed(InodeId file, long tx, long from, long to) {
        Followed f = followed(file, tx);
        if (f == null || f.ranges == null) return;
        if (Long.compareUnsigned(to, FAR) > 0 || from < 0) {
            f.ranges = null;
            return;
        }
        if (from >= to) return;
        Map.Entry<Long, Long> left = f.ranges.floorEntry(from);
        if (left != null && left.getValue() >= from) {
            from = left.getKey();
            to = Math.max(to, left.getValue());
        }
        for (Map.Entry<Long, Long> e = f.ranges.ceilingEntry(from); e != null && e.getKey() <= to;
                e = f.ranges.ceilingEntry(from)) {
            to = Math.max(to, e.getValue());
            f.ranges.remove(e.getKey());
        }
        f.ranges.put(from, to);
        if (f.ranges.size() > MAX_RANGES) f.ranges = null;
    }

    /** {@code file}'s next log in transaction {@code tx} must be whole. */
    synchronized void needsWholeLog(InodeId file, long tx) {
        Followed f = followed(file, tx);
        if (f != null) f.ranges = null;
    }

    /** {@code file} was logged in transaction {@code tx} at size {@code size}: its changes are followed from now. */
    synchronized void logged(InodeId file, long tx, long size) {
        followed(file, tx);
        files.put(file, new Followed(size));
    }

    /**
     * What changed in {@code file} since its last log in transaction {@code tx}, and no longer followed until
     * {@link #logged} again; null when its log must be whole (not followed: no log in this transaction).
     */
    synchronized Since take(InodeId file, long tx) {
        Followed f = followed(file, tx);
        if (f == null) return null;
        files.remove(file);
        if (f.ranges == null) return new Since(f.loggedSize, null);
        List<Range> out = new ArrayList<>(f.ranges.size());
        f.ranges.forEach((s, e) -> out.add(new Range(s, e)));
        return new Since(f.loggedSize, out);
    }

    /** The file as followed in transaction {@code tx}; a new transaction (a commit dropped the log) forgets all. */
    private Followed followed(InodeId file, long tx) {
        if (tx != transid) {
            files.clear();
            transid = tx;
        }
        return files.get(file);
    }
}
