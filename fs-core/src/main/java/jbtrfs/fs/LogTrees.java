package jbtrfs.fs;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.SuperBlock;

/**
 * The kernel's unreplayed fsyncs as an image holds them: the log root tree at the superblock's log_root, whose
 * ROOT_ITEMs (TREE_LOG_OBJECTID, ROOT_ITEM, subvolume id) point at one log tree per subvolume. Every block is read
 * through the tree checker. Before any allocation the log's tree blocks and the data extents it references (none
 * of them in the extent tree) leave the in-memory free space (≈ btrfs_pin_extent_for_log_replay and
 * btrfs_exclude_logged_extents in the LOG_WALK_PIN_ONLY pass).
 */
final class LogTrees {
    /** One subvolume's log tree. */
    record Log(long subvolume, BTree tree) {
    }

    private final List<Log> logs;
    private final List<Long> blocks;
    /** Data extents the logs reference that the extent tree does not hold: bytenr -> disk bytes. */
    private final Map<Long, Long> unrecorded = new LinkedHashMap<>();

    private LogTrees(List<Log> logs, List<Long> blocks) {
        this.logs = logs;
        this.blocks = blocks;
    }

    List<Log> logs() { return logs; }

    /** How many tree blocks the log root tree and the log trees have. */
    int blockCount() { return blocks.size(); }

    /** Whether the log references data extent {@code bytenr} that the extent tree does not hold yet. */
    boolean unrecorded(long bytenr) { return unrecorded.containsKey(bytenr); }

    /** The unrecorded data extents (bytenr -> disk bytes). */
    Map<Long, Long> unrecordedExtents() { return unrecorded; }

    /** Reads the log root tree and every log tree it names; {@link Errno#EINVAL} with one line when one is bad. */
    static LogTrees read(SuperBlock sb, TreeBlockReader reader) throws FsException {
        // the log root tree was written by the transaction after the last commit (open_ctree's expectation too)
        long generation = sb.generation() + 1;
        BTree logRoot = new BTree(reader, ObjectIds.TREE_LOG, sb.logRoot(), sb.logRootLevel(), generation);
        List<Log> logs = new ArrayList<>();
        List<Long> blocks = new ArrayList<>();
        try {
            walk(reader, sb.logRoot(), sb.logRootLevel(), generation, blocks);
            Cursor c = logRoot.seek(Key.first(ObjectIds.TREE_LOG, KeyType.ROOT_ITEM));
            while (c.valid() && c.key().objectid() == ObjectIds.TREE_LOG && c.key().type() == KeyType.ROOT_ITEM) {
                RootItem item = c.decode(RootItem::read);
                long subvolume = c.key().offset();
                if (!ObjectIds.isSubvolume(subvolume)) {
                    throw c.corrupt("log root item for tree " + subvolume + ", expected a subvolume");
                }
                walk(reader, item.bytenr(), item.level(), item.generation(), blocks);
                logs.add(new Log(subvolume, new BTree(reader, ObjectIds.TREE_LOG, item.bytenr(), item.level(),
                        item.generation())));
                c.next();
            }
        } catch (CorruptBlockException e) {
            throw new FsException(Errno.EINVAL, "the log tree is damaged: " + e.getMessage());
        }
        return new LogTrees(logs, blocks);
    }

    /** Collects every block of the tree at {@code bytenr}, each read and checked. */
    private static void walk(TreeBlockReader reader, long bytenr, int level, long generation, List<Long> out)
            throws CorruptBlockException {
        Deque<long[]> todo = new ArrayDeque<>();
        todo.push(new long[] {bytenr, level, generation});
        while (!todo.isEmpty()) {
            long[] at = todo.pop();
            TreeBlock b = reader.read(at[0], at[2], (int) at[1], ObjectIds.TREE_LOG);
            if (b.owner() != ObjectIds.TREE_LOG) {
                throw new CorruptBlockException(ObjectIds.TREE_LOG, b.bytenr(), -1, "header owner is " + b.owner()
                        + ", expected " + ObjectIds.TREE_LOG + " (a log tree)");
            }
            out.add(b.bytenr());
            if (b.isLeaf()) continue;
            for (int i = b.nritems() - 1; i >= 0; i--) {
                todo.push(new long[] {b.blockptr(i), b.level() - 1, b.ptrGeneration(i)});
            }
        }
    }

    /**
     * Takes the log's tree blocks out of the free space until the commit that drops the log (they are free after
     * it: the extent tree never held them), and the data extents the log references and the extent tree lacks,
     * for good (replay records them). Space the extent tree already counts as used is a damaged log.
     */
    void exclude(BlockGroups groups, BTree extentTree, int nodesize) throws FsException {
        for (long bytenr : blocks) {
            if (!groups.tryTake(bytenr, nodesize, BlockGroupFlags.METADATA)) {
                throw new FsException(Errno.EINVAL, "the log tree is damaged: its block " + bytenr
                        + " lies in allocated space");
            }
            groups.pin(bytenr, nodesize);
        }
        for (Log log : logs) {
            Cursor c = log.tree().seek(Key.first(0, 0));
            while (c.valid()) {
                if (c.key().type() == KeyType.EXTENT_DATA) excludeData(c, groups, extentTree);
                c.next();
            }
        }
    }

    private void excludeData(Cursor c, BlockGroups groups, BTree extentTree) throws FsException {
        FileExtentItem fe;
        try {
            fe = c.decode(FileExtentItem::read);
        } catch (CorruptBlockException e) {
            throw new FsException(Errno.EINVAL, "the log tree is damaged: " + e.getMessage());
        }
        if (fe.isInline() || fe.diskBytenr() == 0 || unrecorded.containsKey(fe.diskBytenr())) return;
        if (extentTree.find(new Key(fe.diskBytenr(), KeyType.EXTENT_ITEM, fe.diskNumBytes())) != null) return;
        if (!groups.tryTake(fe.diskBytenr(), fe.diskNumBytes(), BlockGroupFlags.DATA)) {
            throw new FsException(Errno.EINVAL, "the log tree is damaged: its data extent " + fe.diskBytenr()
                    + " of " + fe.diskNumBytes() + " bytes lies in allocated space");
        }
        unrecorded.put(fe.diskBytenr(), fe.diskNumBytes());
    }
}
