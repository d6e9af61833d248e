package jbtrfs.fs;

import java.util.ArrayList;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.tx.TreeLog;

/**
 * One pass over a file's items in the running transaction's tree, collecting what its log must hold (≈ the copy
 * of btrfs_log_inode with btrfs_log_holes): the inode item, every name and xattr (the replay deletes the xattrs a
 * logged inode lacks), the file extents of the leaves this transaction changed (leaves it did not change hold what
 * the last commit holds), and with no_holes a hole item for each gap next to a changed leaf or between leaves, so
 * that the replay drops whatever the last commit had there. Unchanged leaves are skipped but for their first and
 * last extents: an fsync after many writes reads what changed, not the whole file.
 */
final class InodeLogScan {
    private static final int LAST_TYPE = 255;

    /** Items to log, in key order (hole items merged in at the end). */
    final List<TreeLog.LogItem> items = new ArrayList<>();
    /** The inode's names: its INODE_REF and INODE_EXTREF items. */
    final List<TreeLog.LogItem> names = new ArrayList<>();
    /** The logged extents that carry data: their checksums may be new. */
    final List<FileExtentItem> extents = new ArrayList<>();
    /** Whether an item of a kind we do not log was met (the caller commits instead). */
    boolean unsupported;

    private final long ino;
    private final long transid;
    private final boolean noHoles;
    private final List<TreeLog.LogItem> holes = new ArrayList<>();
    private long prevEnd;
    private boolean prevChanged;
    private long prevLeaf = -1;

    private InodeLogScan(long ino, long transid, boolean noHoles) {
        this.ino = ino;
        this.transid = transid;
        this.noHoles = noHoles;
    }

    /** Scans inode {@code ino} in {@code live}, a tree of the running transaction {@code transid}. */
    static InodeLogScan of(BTree live, long ino, long transid, boolean noHoles, long size, int sectorsize)
            throws FsException {
        InodeLogScan s = new InodeLogScan(ino, transid, noHoles);
        Key last = Key.last(ino, LAST_TYPE);
        Cursor c = live.seek(new Key(ino, 0, 0));
        while (c.valid() && c.key().compareTo(last) <= 0 && !s.unsupported) {
            TreeBlock leaf = c.leaf();
            int end = s.leaf(leaf, c.slot(), last);
            if (end < leaf.nritems()) break;
            c = live.seek(after(leaf.key(leaf.nritems() - 1)));
        }
        if (noHoles) {
            long eof = (size + sectorsize - 1) / sectorsize * sectorsize;
            if (eof > s.prevEnd) s.holes.add(s.hole(s.prevEnd, eof));
            if (!s.holes.isEmpty()) {
                s.items.addAll(s.holes);
                s.items.sort((p, q) -> p.key().compareTo(q.key()));
            }
        }
        return s;
    }

    /** Takes the inode's items of {@code leaf} from {@code slot} on; returns the slot where they ended. */
    private int leaf(TreeBlock leaf, int slot, Key last) throws FsException {
        boolean changed = leaf.generation() == transid;
        int n = leaf.nritems();
        for (; slot < n; slot++) {
            Key k = leaf.key(slot);
            if (k.compareTo(last) > 0) return slot;
            if (k.type() != KeyType.EXTENT_DATA) {
                if (!loggedType(k.type())) {
                    unsupported = true;
                    return n;
                }
                TreeLog.LogItem item = copy(leaf, slot, k);
                items.add(item);
                if (k.type() == KeyType.INODE_REF || k.type() == KeyType.INODE_EXTREF) names.add(item);
                continue;
            }
            FileExtentItem fe = extent(leaf, slot);
            if (fe == null) return n;
            long start = k.offset();
            if (noHoles && start > prevEnd && (changed || prevChanged || prevLeaf != leaf.bytenr())) {
                holes.add(hole(prevEnd, start));
            }
            prevEnd = Math.max(prevEnd, start + (fe.isInline() ? fe.ramBytes() : fe.numBytes()));
            prevChanged = changed;
            prevLeaf = leaf.bytenr();
            if (changed) {
                items.add(copy(leaf, slot, k));
                if (!fe.isInline() && fe.diskBytenr() != 0) extents.add(fe);
            } else if (slot < n - 2 && leaf.key(n - 1).compareTo(last) <= 0) {
                // the middle of an unchanged leaf is as committed: only its last extent matters (its gap after)
                slot = n - 2;
            }
        }
        return n;
    }

    private static boolean loggedType(int type) {
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
        return new TreeLog.LogItem(new Key(ino, KeyType.EXTENT_DATA, at),
                FileExtentItem.encodeRegular(transid, FileExtentItem.TYPE_REG, 0, 0, 0, end - at, end - at));
    }

    /** The smallest key after {@code k}. */
    private static Key after(Key k) {
        if (k.offset() != -1L) return new Key(k.objectid(), k.type(), k.offset() + 1);
        if (k.type() != LAST_TYPE) return new Key(k.objectid(), k.type() + 1, 0);
        return new Key(k.objectid() + 1, 0, 0);
    }
}
