package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.tx.TreeLog;

/**
 * The log of a file logged before in this transaction when nothing since asks for a whole one (≈ btrfs_log_inode's
 * fast path, btrfs_log_changed_extents): the inode item, names and xattrs are copied again, and over each range
 * whose extent items changed since the last log ({@link ExtentChanges}), and the range the file grew by, the log's
 * extent items give way to the live tree's. Both are cut at the range's ends, as log_one_extent's
 * btrfs_drop_extents cuts the log's; under no_holes the gaps below EOF go in as hole items, so that the replay drops
 * what the log or the last commit had there. The rest of the log stays: an fsync after a 4 KiB write copies a few
 * items, not the file's leaves.
 */
final class LogChangedExtents {
    /** A changed range [start, end) of the file, in whole sectors, and the live tree's items over it, cut to it. */
    record Span(long start, long end, List<TreeLog.LogItem> items) {
    }

    /** An edit of the log: its items from {@code from} to {@code to} become {@code items}. */
    record LogEdit(Key from, Key to, List<TreeLog.LogItem> items) {
    }

    /** The inode item, refs and xattrs: the inode's keys before its extents. */
    final List<TreeLog.LogItem> head = new ArrayList<>();
    /** The inode's INODE_REF and INODE_EXTREF items. */
    final List<TreeLog.LogItem> names = new ArrayList<>();
    final List<Span> spans = new ArrayList<>();
    /** The extents with data among the spans' items, by key: their checksums may be new. */
    final Map<Key, FileExtentItem> extents = new HashMap<>();
    /** Bytes of the items to log, with two cut log items a span. */
    long bytes;
    /** An item of a kind we do not log, or a damaged one (the caller commits). */
    boolean unsupported;
    /** An inline extent in a changed range: the caller logs the file whole. */
    boolean whole;

    private final long ino;
    private final long transid;
    private final int sectorsize;

    private LogChangedExtents(long ino, long transid, int sectorsize) {
        this.ino = ino;
        this.transid = transid;
        this.sectorsize = sectorsize;
    }

    /** What to log of inode {@code ino} of {@code live} at size {@code size}, given what changed {@code since}. */
    static LogChangedExtents of(BTree live, long ino, ExtentChanges.Since since, long size, boolean noHoles,
                                int sectorsize, long transid) throws FsException {
        LogChangedExtents l = new LogChangedExtents(ino, transid, sectorsize);
        l.head(live);
        long eof = l.roundUp(size);
        for (ExtentChanges.Range r : l.aligned(since, size)) {
            if (l.unsupported || l.whole) break;
            l.span(live, r.start(), r.end(), noHoles ? eof : 0);
        }
        return l;
    }

    /** The changed ranges in whole sectors, with what the file grew by since its last log, merged. */
    private List<ExtentChanges.Range> aligned(ExtentChanges.Since since, long size) {
        List<ExtentChanges.Range> in = new ArrayList<>(since.ranges());
        if (size > since.loggedSize()) in.add(new ExtentChanges.Range(since.loggedSize(), size));
        in.sort((a, b) -> Long.compare(a.start(), b.start()));
        List<ExtentChanges.Range> out = new ArrayList<>(in.size());
        for (ExtentChanges.Range r : in) {
            long s = r.start() / sectorsize * sectorsize;
            long e = roundUp(r.end());
            ExtentChanges.Range prev = out.isEmpty() ? null : out.get(out.size() - 1);
            if (prev != null && s <= prev.end()) {
                out.set(out.size() - 1, new ExtentChanges.Range(prev.start(), Math.max(prev.end(), e)));
            } else {
                out.add(new ExtentChanges.Range(s, e));
            }
        }
        return out;
    }

    private void head(BTree live) throws FsException {
        live.scan(new Key(ino, 0, 0), InodeLogScan.before(new Key(ino, KeyType.EXTENT_DATA, 0)),
                (key, leaf, off, size) -> {
                    if (!InodeLogScan.loggedType(key.type())) {
                        unsupported = true;
                        return false;
                    }
                    byte[] d = new byte[size];
                    leaf.get(off, d);
                    TreeLog.LogItem item = new TreeLog.LogItem(key, d);
                    head.add(item);
                    if (key.type() == KeyType.INODE_REF || key.type() == KeyType.INODE_EXTREF) names.add(item);
                    return true;
                });
        bytes += TreeLog.bytes(head);
    }

    /** The live tree's items over [start, end), cut to it, and under no_holes hole items for its gaps below eof. */
    private void span(BTree live, long start, long end, long eof) throws FsException {
        List<TreeLog.LogItem> out = new ArrayList<>();
        Cursor c = live.seekFloor(new Key(ino, KeyType.EXTENT_DATA, start));
        if (!c.valid() || c.key().objectid() != ino || c.key().type() != KeyType.EXTENT_DATA) {
            c = live.seek(new Key(ino, KeyType.EXTENT_DATA, start));
        }
        long at = start;
        for (; c.valid(); c.next()) {
            Key k = c.key();
            if (k.objectid() != ino || k.type() != KeyType.EXTENT_DATA || Long.compareUnsigned(k.offset(), end) >= 0) {
                break;
            }
            FileExtentItem fe = read(c.buffer(), c.dataOffset(), c.dataSize());
            if (fe == null) return;
            if (fe.isInline()) {
                whole = true;
                return;
            }
            long xs = k.offset();
            long xe = xs + fe.numBytes();
            if (Long.compareUnsigned(xe, start) <= 0) continue;
            long cs = Math.max(xs, start);
            long ce = FileOffsets.min(xe, end);
            if (cs > at && at < eof) out.add(hole(at, Math.min(cs, eof)));
            if (fe.isHole()) {
                out.add(hole(cs, ce));
            } else if (cs == xs && ce == xe) {
                byte[] d = new byte[c.dataSize()];
                c.buffer().get(c.dataOffset(), d);
                out.add(new TreeLog.LogItem(k, d));
                extents.put(k, fe);
            } else {
                TreeLog.LogItem cut = new TreeLog.LogItem(new Key(ino, KeyType.EXTENT_DATA, cs),
                        fe.encodeSlice(fe.offset() + (cs - xs), ce - cs));
                out.add(cut);
                extents.put(cut.key(), read(ByteBuffer.wrap(cut.data()).order(ByteOrder.LITTLE_ENDIAN), 0,
                        cut.data().length));
            }
            at = ce;
        }
        if (end > at && at < eof) out.add(hole(at, Math.min(end, eof)));
        spans.add(new Span(start, end, out));
        bytes += TreeLog.bytes(out) + 2L * (FileExtentItem.SIZE_REGULAR + 25);
    }

    /**
     * The edit that makes {@code log}'s extents of the file over [span.start, span.end) the span's: a log item
     * across an end keeps its outside part. Null for a damaged log item.
     */
    LogEdit cutLog(TreeLog log, long subvol, Span span) throws FsException {
        Key from = new Key(ino, KeyType.EXTENT_DATA, span.start());
        Key to = new Key(ino, KeyType.EXTENT_DATA, span.end() - 1);
        List<TreeLog.LogItem> into = new ArrayList<>(span.items());
        for (TreeLog.LogItem li : log.itemsFrom(subvol, from, to)) {
            Key k = li.key();
            if (k.objectid() != ino || k.type() != KeyType.EXTENT_DATA) continue;
            FileExtentItem fe = read(ByteBuffer.wrap(li.data()).order(ByteOrder.LITTLE_ENDIAN), 0, li.data().length);
            if (fe == null) return null;
            long ls = k.offset();
            long le = ls + (fe.isInline() ? roundUp(fe.ramBytes()) : fe.numBytes());
            // an inline extent starts at 0 and ends within the first sector: never across a span's end
            if (ls < span.start() && le > span.start()) {
                into.add(fe.isHole() ? hole(ls, span.start())
                        : new TreeLog.LogItem(k, fe.encodeSlice(fe.offset(), span.start() - ls)));
                from = k;
            }
            if (Long.compareUnsigned(le, span.end()) > 0 && ls < span.end()) {
                long rest = le - span.end();
                into.add(fe.isHole() ? hole(span.end(), le) : new TreeLog.LogItem(
                        new Key(ino, KeyType.EXTENT_DATA, span.end()), fe.encodeSlice(fe.offset() + (span.end() - ls),
                        rest)));
                to = new Key(ino, KeyType.EXTENT_DATA, span.end());
            }
        }
        into.sort((x, y) -> x.key().compareTo(y.key()));
        return new LogEdit(from, to, into);
    }

    private FileExtentItem read(ByteBuffer b, int off, int size) {
        try {
            return FileExtentItem.read(b, off, size);
        } catch (MalformedItemException e) {
            unsupported = true; // the commit path meets it again and reports it
            return null;
        }
    }

    private TreeLog.LogItem hole(long at, long end) {
        return InodeLogScan.hole(ino, transid, at, end);
    }

    private long roundUp(long bytes) {
        return (bytes + sectorsize - 1) / sectorsize * sectorsize;
    }
}
