package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.format.ObjectIds;
import jbtrfs.tx.CsumItems;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;
import jbtrfs.tx.TreeLog;

/**
 * An fsync of a regular file as the kernel's btrfs_log_inode makes it when the file and its names are already in
 * the last commit: every item of the inode (inode item, refs, xattrs, file extents, and with no_holes the holes
 * between them, as btrfs_log_holes) goes into the subvolume's log tree with the checksums of the extents this
 * transaction wrote, then one log sync. Anything else (a new inode or name, a subvolume made in this transaction,
 * a directory, a log too big) is the caller's full commit, where the kernel too falls back or logs more than we do.
 */
final class FsyncLog {
    /** Items of one inode past which a full commit is cheaper than copying them (the kernel's too-big fallback). */
    static final int MAX_ITEMS = 4096;
    private static final int LAST_TYPE = 255;

    private final TransactionManager txm;
    private final boolean noHoles;

    FsyncLog(TransactionManager txm, boolean noHoles) {
        this.txm = txm;
        this.noHoles = noHoles;
    }

    /**
     * Makes {@code file}'s changes since the last commit durable through the log; false when only a full commit
     * can (then nothing was logged). Called under the write lock.
     */
    boolean fsync(InodeId file) throws FsException {
        Transaction tx = txm.running();
        if (tx == null || tx.isEmpty()) return true; // nothing changed since the last commit
        BTree live = tx.tree(file.root());
        if (live == null) return true; // nothing in this subvolume changed
        BTree committed;
        try {
            committed = txm.committedTree(file.root());
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) return false; // a subvolume made in this transaction
            throw e;
        }
        long ino = file.objectid();
        List<TreeLog.LogItem> items = items(live, ino);
        if (items.isEmpty() || items.size() > MAX_ITEMS) return false;
        TreeLog.LogItem inode = items.get(0);
        if (inode.key().type() != KeyType.INODE_ITEM) return false;
        InodeItem now = InodeItem.read(ByteBuffer.wrap(inode.data()).order(ByteOrder.LITTLE_ENDIAN), 0);
        if ((now.mode() & Stat.S_IFMT) != Stat.S_IFREG) return false;
        List<TreeLog.LogItem> before = items(committed, ino);
        if (before.isEmpty() || !sameNames(before, items)) return false;
        if (Arrays.equals(before.get(0).data(), inode.data())) return true; // the inode did not change
        List<FileExtent> extents = extents(items);
        if (extents == null) return false;
        if (noHoles) items = withHoles(items, extents, now.size(), tx.transid());
        TreeLog log = txm.treeLog();
        log.setItems(file.root(), new Key(ino, 0, 0), Key.last(ino, LAST_TYPE), items);
        BTree csums = tx.tree(ObjectIds.CSUM_TREE);
        if (csums == null) csums = txm.committedTree(ObjectIds.CSUM_TREE);
        for (FileExtent x : extents) {
            FileExtentItem fe = x.item();
            // extents older than this transaction have their checksums in the committed csum tree already
            if (fe.isInline() || fe.diskBytenr() == 0 || fe.isPrealloc() || fe.generation() != tx.transid()) continue;
            long start = fe.compression() != 0 ? fe.diskBytenr() : fe.diskBytenr() + fe.offset();
            long end = fe.compression() != 0 ? fe.diskBytenr() + fe.diskNumBytes() : start + fe.numBytes();
            log.setCsums(file.root(), start, end, txm.csums().read(csums, start, end));
        }
        txm.syncLog();
        return true;
    }

    /** A file extent item and the file range [start, end) it covers. */
    private record FileExtent(long start, long end, FileExtentItem item) {
    }

    /** Every item of inode {@code ino} in {@code tree}, in key order. */
    private static List<TreeLog.LogItem> items(BTree tree, long ino) throws FsException {
        List<TreeLog.LogItem> items = new ArrayList<>();
        tree.scan(new Key(ino, 0, 0), Key.last(ino, LAST_TYPE), (key, leaf, off, size) -> {
            byte[] d = new byte[size];
            leaf.get(off, d);
            items.add(new TreeLog.LogItem(key, d));
            return true;
        });
        return items;
    }

    /** Whether the inode has the same refs and extrefs (its names) in both lists. */
    private static boolean sameNames(List<TreeLog.LogItem> a, List<TreeLog.LogItem> b) {
        List<TreeLog.LogItem> na = names(a);
        List<TreeLog.LogItem> nb = names(b);
        if (na.size() != nb.size()) return false;
        for (int i = 0; i < na.size(); i++) {
            if (!na.get(i).key().equals(nb.get(i).key())
                    || !Arrays.equals(na.get(i).data(), nb.get(i).data())) {
                return false;
            }
        }
        return true;
    }

    private static List<TreeLog.LogItem> names(List<TreeLog.LogItem> items) {
        List<TreeLog.LogItem> names = new ArrayList<>();
        for (TreeLog.LogItem i : items) {
            int t = i.key().type();
            if (t == KeyType.INODE_REF || t == KeyType.INODE_EXTREF) names.add(i);
        }
        return names;
    }

    /** The file extent items among {@code items}; null when one cannot be read (the commit path reports it). */
    private static List<FileExtent> extents(List<TreeLog.LogItem> items) {
        List<FileExtent> extents = new ArrayList<>();
        for (TreeLog.LogItem i : items) {
            if (i.key().type() != KeyType.EXTENT_DATA) continue;
            FileExtentItem fe;
            try {
                fe = FileExtentItem.read(ByteBuffer.wrap(i.data()).order(ByteOrder.LITTLE_ENDIAN), 0, i.data().length);
            } catch (MalformedItemException e) {
                return null;
            }
            long start = i.key().offset();
            extents.add(new FileExtent(start, start + (fe.isInline() ? fe.ramBytes() : fe.numBytes()), fe));
        }
        return extents;
    }

    /**
     * {@code items} with a hole item for each gap between extents up to the sector-rounded size (≈ btrfs_log_holes):
     * with no_holes a gap has no item, and the replay must still drop what the last commit had there.
     */
    private List<TreeLog.LogItem> withHoles(List<TreeLog.LogItem> items, List<FileExtent> extents, long size,
                                            long transid) {
        List<TreeLog.LogItem> out = new ArrayList<>(items);
        int sector = txm.sectorsize();
        long end = (size + sector - 1) / sector * sector;
        long at = 0;
        long ino = items.get(0).key().objectid();
        for (FileExtent x : extents) {
            if (x.start() > at) out.add(hole(ino, at, x.start() - at, transid));
            at = Math.max(at, x.end());
        }
        if (end > at) out.add(hole(ino, at, end - at, transid));
        out.sort((p, q) -> p.key().compareTo(q.key()));
        return out;
    }

    private static TreeLog.LogItem hole(long ino, long at, long length, long transid) {
        return new TreeLog.LogItem(new Key(ino, KeyType.EXTENT_DATA, at),
                FileExtentItem.encodeRegular(transid, FileExtentItem.TYPE_REG, 0, 0, 0, length, length));
    }
}
