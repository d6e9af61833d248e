package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeEditor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.Timespec;

/**
 * The log trees of the running transaction (≈ the kernel's tree-log): one per subvolume that had an fsync, holding
 * copies of the fsync'd inodes' items and their new data checksums, and the log root tree naming each of them
 * (key TREE_LOG / ROOT_ITEM / subvolume id). Every block carries the running transaction's generation, as the
 * kernel's replay expects (the superblock's generation plus one). A log sync writes what changed and points the
 * superblock's log_root at the log root tree; the next commit drops the whole log.
 */
public final class TreeLog {
    /** A btrfs_item in a leaf: key, offset, size. */
    private static final int ITEM_HEADER = 25;
    private final LogBlocks blocks;
    private final TreeEditor editor;
    private final CsumItems csums;
    private final long transid;
    private final int nodesize;
    /** The log root tree, made with the first log. */
    private TreeRoot rootTree;
    /** Subvolume id -> its log tree. */
    private final Map<Long, TreeRoot> logs = new TreeMap<>();

    /** One item as a log holds it. */
    public record LogItem(Key key, byte[] data) {
    }

    TreeLog(BlockGroups groups, int nodesize, long transid, byte[] fsid, byte[] chunkTreeUuid, CsumItems csums) {
        this.blocks = new LogBlocks(groups, nodesize);
        this.editor = new TreeEditor(blocks, nodesize, transid, fsid, chunkTreeUuid);
        this.csums = csums;
        this.transid = transid;
        this.nodesize = nodesize;
    }

    public long transid() { return transid; }

    /** The leaf space {@code items} take: each item's data and its header in the leaf. */
    public static long bytes(List<LogItem> items) {
        long n = 0;
        for (LogItem i : items) n += i.data().length + ITEM_HEADER;
        return n;
    }

    /**
     * Makes the log of subvolume {@code subvol} hold exactly {@code items} among its keys from {@code from} to
     * {@code to}: items that differ are written, items no longer there deleted, equal ones left alone (an fsync
     * after an fsync rewrites only what changed in between). Returns the keys of the items written.
     */
    public List<Key> setItems(long subvol, Key from, Key to, List<LogItem> items) throws FsException {
        TreeRoot log = log(subvol);
        Map<Key, byte[]> logged = new TreeMap<>();
        view(log).scan(from, to, (key, leaf, off, size) -> {
            byte[] d = new byte[size];
            leaf.get(off, d);
            logged.put(key, d);
            return true;
        });
        List<Key> written = new ArrayList<>();
        for (LogItem item : items) {
            byte[] old = logged.remove(item.key());
            if (old == null || !Arrays.equals(old, item.data())) {
                editor.put(log, item.key(), item.data());
                written.add(item.key());
            }
        }
        for (Key gone : logged.keySet()) editor.delete(log, gone);
        return written;
    }

    /**
     * The items of {@code subvol}'s log from the last one at or before {@code from} through {@code to}: what an edit
     * of a range must cut at its start. Empty when the subvolume has no log.
     */
    public List<LogItem> itemsFrom(long subvol, Key from, Key to) throws FsException {
        List<LogItem> out = new ArrayList<>();
        TreeRoot log = logs.get(subvol);
        if (log == null) return out;
        Cursor c = view(log).seekFloor(from);
        if (!c.valid()) c = view(log).seek(from);
        while (c.valid() && c.key().compareTo(to) <= 0) {
            byte[] d = new byte[c.dataSize()];
            c.buffer().get(c.dataOffset(), d);
            out.add(new LogItem(c.key(), d));
            c.next();
        }
        return out;
    }

    /**
     * Makes the log of {@code subvol} hold the checksums {@code runs} for the data range [start, end) and no
     * others there (≈ log_csums: the range's old log checksums go first, so items never overlap).
     */
    public void setCsums(long subvol, long start, long end, List<CsumItems.Run> runs) throws FsException {
        TreeRoot log = log(subvol);
        List<CsumItems.Run> logged = csums.read(view(log), start, end);
        if (sameRuns(logged, runs)) return;
        csums.delete(editor, log, view(log), start, end - start);
        for (CsumItems.Run r : runs) csums.insert(editor, log, r.start(), r.csums());
    }

    private static boolean sameRuns(List<CsumItems.Run> a, List<CsumItems.Run> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).start() != b.get(i).start() || !Arrays.equals(a.get(i).csums(), b.get(i).csums())) {
                return false;
            }
        }
        return true;
    }

    private TreeRoot log(long subvol) throws FsException {
        TreeRoot log = logs.get(subvol);
        if (log == null) {
            if (rootTree == null) rootTree = editor.createTree(ObjectIds.TREE_LOG);
            log = editor.createTree(ObjectIds.TREE_LOG);
            logs.put(subvol, log);
        }
        return log;
    }

    private BTree view(TreeRoot r) {
        return new BTree(blocks, ObjectIds.TREE_LOG, r.bytenr(), r.level(), r.generation());
    }

    /**
     * Before a log sync: each log's root item in the log root tree names its current root (≈ update_log_root).
     * Returns the blocks the sync writes.
     */
    Map<Long, ByteBuffer> prepareSync() throws FsException {
        for (Map.Entry<Long, TreeRoot> e : logs.entrySet()) {
            Key key = new Key(ObjectIds.TREE_LOG, KeyType.ROOT_ITEM, e.getKey());
            byte[] item = rootItem(e.getValue());
            Cursor c = view(rootTree).find(key);
            if (c != null) {
                byte[] old = new byte[c.dataSize()];
                c.buffer().get(c.dataOffset(), old);
                if (Arrays.equals(old, item)) continue;
            }
            editor.put(rootTree, key, item);
        }
        return blocks.unwritten();
    }

    /** The root item of a log tree: the kernel's btrfs_add_log_tree gives its inode these values. */
    private byte[] rootItem(TreeRoot log) {
        byte[] item = RootItem.encodeNewTree(log.bytenr(), transid, nodesize);
        ByteBuffer b = ByteBuffer.wrap(item).order(ByteOrder.LITTLE_ENDIAN);
        b.put(RootItem.OFFSET_LEVEL, (byte) log.level());
        b.putLong(RootItem.OFFSET_BYTES_USED, 0);
        Timespec zero = new Timespec(0, 0);
        new InodeItem(1, 0, 3, nodesize, 0, 1, 0, 0, 040755, 0, 0, 0, zero, zero, zero, zero).write(b, 0);
        return item;
    }

    /** The log sync wrote the blocks {@link #prepareSync} returned. */
    void written() { blocks.written(); }

    /** Whether anything was logged. */
    boolean isEmpty() { return rootTree == null; }

    long rootBytenr() { return rootTree.bytenr(); }

    int rootLevel() { return rootTree.level(); }

    /** The commit drops the log: its blocks are free once that commit is on disk. */
    void drop() { blocks.pinAll(); }

    /** Bytes of tree blocks this log has taken. */
    public long bytes() { return blocks.bytes(); }
}
