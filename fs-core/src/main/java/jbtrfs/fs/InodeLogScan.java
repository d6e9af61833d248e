package jbtrfs.fs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TreeLog;

/**
 * One pass over a file's leaves in the running transaction's tree, finding what its log must hold (≈ the copy of
 * btrfs_log_inode with btrfs_log_holes): the inode item, every name and xattr (the replay deletes the xattrs a
 * logged inode lacks), the file extents of the leaves this transaction changed (the others hold what the last
 * commit holds), and with no_holes a hole item for each gap next to a changed leaf or between leaves, so that the
 * replay drops what the last commit had there.
 *
 * <p>The inode's key range is cut where the tree's leaves are cut; a piece is {@link Piece#refresh refreshed}
 * (its log items written again) only when its leaf or the next one changed since this file's last log, or the
 * cuts moved: an fsync after each small write copies a leaf or two, not the file.
 */
final class InodeLogScan {
    static final int LAST_TYPE = 255;

    /** A piece of the inode's key range, [from, next), held by one leaf; items only when refreshed. */
    record Piece(long bytenr, Key from, Key next, boolean refresh, List<TreeLog.LogItem> items) {
        /** The last key of the piece, for inclusive range scans. */
        Key to(long ino) { return next == null ? Key.last(ino, LAST_TYPE) : before(next); }
    }

    /** Where one log of the file left off: the transaction, its change count then, the pieces, its names then. */
    record Logged(long transid, long changeSeq, List<Piece> pieces, Set<String> names) {
        /** The pieces by leaf address (a leaf holds one piece of a file): one lookup per leaf, not a pass. */
        Map<Long, Piece> byLeaf() {
            Map<Long, Piece> m = new HashMap<>(pieces.size() * 2);
            for (Piece p : pieces) m.put(p.bytenr(), p);
            return m;
        }
    }

    /** Whether {@code p} was the piece [from, next) of the same leaf. */
    private static boolean same(Piece p, Key from, Key next) {
        return p != null && p.from().equals(from) && (p.next() == null ? next == null : p.next().equals(next));
    }

    final List<Piece> pieces = new ArrayList<>();
    /** The inode's names: its INODE_REF and INODE_EXTREF items. */
    final List<TreeLog.LogItem> names = new ArrayList<>();
    /** The extents with data in refreshed pieces, by their item's key: their checksums may be new. */
    final Map<Key, FileExtentItem> extents = new HashMap<>();
    /** Bytes of the items in refreshed pieces, each with its leaf header. */
    long bytes;
    /** Whether an item of a kind we do not log was met (the caller commits instead). */
    boolean unsupported;

    private final long ino;
    private final long transid;
    private final boolean noHoles;
    private final int sectorsize;
    private long prevEnd;
    private boolean prevChanged;
    private final List<TreeLog.LogItem> holes = new ArrayList<>();

    private InodeLogScan(long ino, long transid, boolean noHoles, int sectorsize) {
        this.ino = ino;
        this.sectorsize = sectorsize;
        this.transid = transid;
        this.noHoles = noHoles;
    }

    /** A leaf of the inode and where its items of the inode start. */
    private record Leaf(TreeBlock block, int slot, Key from) {
    }

    /**
     * Scans inode {@code ino} in {@code live}, a tree of {@code tx}; {@code last} is where its previous log in this
     * transaction left off, or null.
     */
    static InodeLogScan of(Transaction tx, BTree live, long ino, boolean noHoles, long size, int sectorsize,
                           Logged last) throws FsException {
        InodeLogScan s = new InodeLogScan(ino, tx.transid(), noHoles, sectorsize);
        List<Leaf> leaves = leaves(live, ino);
        boolean[] moved = new boolean[leaves.size()];
        Map<Long, Piece> before = last == null ? Map.of() : last.byLeaf();
        for (int i = 0; i < leaves.size(); i++) {
            long bytenr = leaves.get(i).block().bytenr();
            moved[i] = last == null || last.transid() != tx.transid() || tx.changedAt(bytenr) > last.changeSeq()
                    || !same(before.get(bytenr), leaves.get(i).from(), next(leaves, i));
        }
        for (int i = 0; i < leaves.size() && !s.unsupported; i++) {
            // a piece's holes reach to the next leaf's first extent, and the last piece's to the end of the file
            boolean refresh = moved[i] || (i + 1 < leaves.size() && moved[i + 1]) || i == leaves.size() - 1;
            s.leaf(leaves.get(i), next(leaves, i), refresh);
        }
        if (noHoles) {
            long eof = s.roundUp(size);
            if (eof > s.prevEnd) s.holes.add(s.hole(s.prevEnd, eof));
            s.placeHoles();
        }
        return s;
    }

    private static Key next(List<Leaf> leaves, int i) {
        return i + 1 < leaves.size() ? leaves.get(i + 1).from() : null;
    }

    /** The leaves holding the inode's items, in key order. */
    private static List<Leaf> leaves(BTree live, long ino) throws FsException {
        List<Leaf> leaves = new ArrayList<>();
        Key first = new Key(ino, 0, 0);
        Key last = Key.last(ino, LAST_TYPE);
        Cursor c = live.seek(first);
        while (c.valid() && c.key().compareTo(last) <= 0) {
            TreeBlock b = c.leaf();
            leaves.add(new Leaf(b, c.slot(), leaves.isEmpty() ? first : c.key()));
            if (b.key(b.nritems() - 1).compareTo(last) > 0) break;
            c.nextLeaf();
        }
        return leaves;
    }

    /** Takes the inode's items of one leaf: all of them when refreshed, else only what the holes need. */
    private void leaf(Leaf leaf, Key next, boolean refresh) throws FsException {
        TreeBlock b = leaf.block();
        boolean changed = b.generation() == transid;
        Key last = next == null ? Key.last(ino, LAST_TYPE) : before(next);
        List<TreeLog.LogItem> out = new ArrayList<>();
        int n = b.nritems();
        boolean firstExtent = true;
        for (int slot = leaf.slot(); slot < n; slot++) {
            Key k = b.key(slot);
            if (k.compareTo(last) > 0) break;
            if (k.type() != KeyType.EXTENT_DATA) {
                if (!loggedType(k.type())) {
                    unsupported = true;
                    return;
                }
                TreeLog.LogItem item = copy(b, slot, k);
                out.add(item);
                if (k.type() == KeyType.INODE_REF || k.type() == KeyType.INODE_EXTREF) names.add(item);
                continue;
            }
            FileExtentItem fe = extent(b, slot);
            if (fe == null) return;
            long start = k.offset();
            // a gap inside a leaf this transaction did not change is a committed hole; one between leaves may not be
            if (noHoles && start > prevEnd && (changed || prevChanged || firstExtent)) holes.add(hole(prevEnd, start));
            firstExtent = false;
            // an inline extent's end rounds up to the sector, as btrfs_file_extent_end: items start on sectors
            prevEnd = Math.max(prevEnd, roundUp(start + (fe.isInline() ? fe.ramBytes() : fe.numBytes())));
            prevChanged = changed;
            if (changed && refresh) {
                out.add(copy(b, slot, k));
                if (!fe.isInline() && fe.diskBytenr() != 0) extents.put(k, fe);
            } else if (!(changed && refresh) && slot < n - 2 && b.key(n - 1).compareTo(last) <= 0) {
                // the middle of a leaf not copied now is as committed or as last logged: only its last extent
                // matters (its gap to the next leaf)
                slot = n - 2;
            }
        }
        if (refresh) bytes += TreeLog.bytes(out);
        pieces.add(new Piece(b.bytenr(), leaf.from(), next, refresh, refresh ? out : null));
    }

    /** Puts each hole item into the piece its key falls in (only refreshed pieces take them). */
    private void placeHoles() {
        for (TreeLog.LogItem h : holes) {
            for (Piece p : pieces) {
                if (p.refresh() && h.key().compareTo(p.from()) >= 0 && (p.next() == null
                        || h.key().compareTo(p.next()) < 0)) {
                    p.items().add(h);
                    bytes += TreeLog.bytes(List.of(h));
                }
            }
        }
        for (Piece p : pieces) if (p.refresh()) p.items().sort((x, y) -> x.key().compareTo(y.key()));
    }

    private long roundUp(long bytes) {
        return (bytes + sectorsize - 1) / sectorsize * sectorsize;
    }

    static boolean loggedType(int type) {
        return type == KeyType.INODE_ITEM || type == KeyType.INODE_REF || type == KeyType.INODE_EXTREF
                || type == KeyType.XATTR_ITEM;
    }

    private FileExtentItem extent(TreeBlock leaf, int slot) {
        try {
            return FileExtentItem.read(leaf.buffer(), leaf.itemOffset(slot), leaf.itemSize(slot));
        } catch (MalformedItemException e) {
            unsupported = true; // the commit path meets it again and reports it
            return null;
        }
    }

    private static TreeLog.LogItem copy(TreeBlock leaf, int slot, Key k) {
        byte[] d = new byte[leaf.itemSize(slot)];
        leaf.buffer().get(leaf.itemOffset(slot), d);
        return new TreeLog.LogItem(k, d);
    }

    private TreeLog.LogItem hole(long at, long end) {
        return hole(ino, transid, at, end);
    }

    /** A hole item of inode {@code ino} over [at, end), as the replay reads it: drop what is there. */
    static TreeLog.LogItem hole(long ino, long transid, long at, long end) {
        return new TreeLog.LogItem(new Key(ino, KeyType.EXTENT_DATA, at),
                FileExtentItem.encodeRegular(transid, FileExtentItem.TYPE_REG, 0, 0, 0, end - at, end - at));
    }

    /** The largest key before {@code k}. */
    static Key before(Key k) {
        if (k.offset() != 0) return new Key(k.objectid(), k.type(), k.offset() - 1);
        if (k.type() != 0) return new Key(k.objectid(), k.type() - 1, -1L);
        return new Key(k.objectid() - 1, LAST_TYPE, -1L);
    }
}
