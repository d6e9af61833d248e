package jbtrfs.tx;

import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.FreeSpaceInfo;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;

/**
 * A settled commit held against its extent tree before it is written (tests turn it on with
 * {@code -Djbtrfs.verifyCommits=true}): per block group, the extent items' bytes against the group item's
 * {@code used} and the allocator's, the gaps between them against the allocator's free space after commit and the
 * free-space tree's items, as btrfs check compares them. A mismatch fails the commit, which then aborts.
 */
final class CommitCheck {
    /** Read once: production mounts pay one constant branch per commit. */
    static final boolean ENABLED = Boolean.getBoolean("jbtrfs.verifyCommits");

    private final Transaction tx;
    private final BlockGroups groups;
    private final int nodesize;
    private final int sectorsize;
    /** Per block group start: bytes of its extent items, and the gaps between them (start -> end). */
    private final Map<Long, Long> used = new HashMap<>();
    private final Map<Long, TreeMap<Long, Long>> gaps = new HashMap<>();

    private CommitCheck(Transaction tx, int nodesize, int sectorsize) {
        this.tx = tx;
        this.groups = tx.blockGroups();
        this.nodesize = nodesize;
        this.sectorsize = sectorsize;
    }

    /** Checks the settled transaction; {@link SpaceAccountingException} names the first mismatch. */
    static void verify(Transaction tx, int nodesize, int sectorsize, long blockGroupTree, boolean freeSpaceTree)
            throws FsException {
        CommitCheck c = new CommitCheck(tx, nodesize, sectorsize);
        c.sumExtents();
        c.checkGroups(blockGroupTree);
        if (freeSpaceTree) c.checkFreeSpaceTree();
    }

    /** Walks the extent tree once: each item inside one group, none overlapping, used bytes and gaps per group. */
    private void sumExtents() throws FsException {
        Map<Long, Long> cursor = new HashMap<>();
        for (BlockGroup bg : groups.all()) {
            used.put(bg.start(), 0L);
            gaps.put(bg.start(), new TreeMap<>());
            cursor.put(bg.start(), bg.start());
        }
        Cursor e = tree(ObjectIds.EXTENT_TREE).seek(new Key(0, 0, 0));
        for (; e.valid(); e.next()) {
            Key k = e.key();
            long len = k.type() == KeyType.EXTENT_ITEM ? k.offset() : k.type() == KeyType.METADATA_ITEM ? nodesize : -1;
            if (len < 0) continue;
            BlockGroup bg = groups.find(k.objectid());
            if (bg == null || k.objectid() + len > bg.end()) {
                throw fail("extent item " + k + " lies outside every block group");
            }
            long at = cursor.get(bg.start());
            if (k.objectid() < at) throw fail("extent item " + k + " overlaps the extent before it");
            if (k.objectid() > at) gaps.get(bg.start()).put(at, k.objectid());
            cursor.put(bg.start(), k.objectid() + len);
            used.merge(bg.start(), len, Long::sum);
        }
        for (BlockGroup bg : groups.all()) {
            long at = cursor.get(bg.start());
            if (at < bg.end()) gaps.get(bg.start()).put(at, bg.end());
        }
    }

    /** Each group's item and the allocator agree with the extent items. */
    private void checkGroups(long blockGroupTree) throws FsException {
        BTree items = tree(blockGroupTree);
        for (BlockGroup bg : groups.all()) {
            long sum = used.get(bg.start());
            Cursor c = items.find(new Key(bg.start(), KeyType.BLOCK_GROUP_ITEM, bg.length()));
            if (c == null) throw fail("block group " + bg.start() + " has no item");
            long inItem = c.decode(BlockGroupItem.SIZE, BlockGroupItem::read).used();
            if (inItem != sum) {
                throw fail("block group " + bg.start() + ": its item says used " + inItem + ", its extent items hold "
                        + sum);
            }
            if (bg.usedAfterCommit() != sum) {
                throw fail("block group " + bg.start() + ": the allocator counts used " + bg.usedAfterCommit()
                        + ", its extent items hold " + sum);
            }
            // the allocator's free space after commit keeps the superblock stripes free, as the gaps do
            String diff = firstDifference(bg.freeInTree(), gaps.get(bg.start()));
            if (diff != null) {
                throw fail("block group " + bg.start() + ": the allocator's free space after commit " + diff);
            }
        }
    }

    /** Each group's free-space tree items describe exactly the gaps between its extent items. */
    private void checkFreeSpaceTree() throws FsException {
        BTree fst = tx.tree(ObjectIds.FREE_SPACE_TREE);
        if (fst == null) return; // untouched by this transaction: the last commit's check covered it
        Map<Long, TreeMap<Long, Long>> recorded = new HashMap<>();
        Map<Long, FreeSpaceInfo> infos = new HashMap<>();
        BlockGroup bg = null;
        for (Cursor c = fst.seek(new Key(0, 0, 0)); c.valid(); c.next()) {
            Key k = c.key();
            if (k.type() == KeyType.FREE_SPACE_INFO) {
                bg = groups.find(k.objectid());
                if (bg != null && (bg.start() != k.objectid() || bg.length() != k.offset())) {
                    throw fail("free-space info " + k + " overlaps block group " + bg.start() + "+" + bg.length());
                }
                if (bg == null) continue; // mkfs leaves the infos of its first, removed groups; check ignores them
                infos.put(bg.start(), c.decode(FreeSpaceInfo.SIZE, FreeSpaceInfo::read));
                recorded.put(bg.start(), new TreeMap<>());
                continue;
            }
            if (k.type() != KeyType.FREE_SPACE_EXTENT && k.type() != KeyType.FREE_SPACE_BITMAP) continue;
            if (bg == null && infos.isEmpty()) continue; // the removed groups' items, ahead of every group
            if (bg == null || k.objectid() < bg.start() || k.objectid() + k.offset() > bg.end()) {
                throw fail("free-space item " + k + " lies outside the block group of the info before it");
            }
            TreeMap<Long, Long> free = recorded.get(bg.start());
            if (k.type() == KeyType.FREE_SPACE_EXTENT) {
                addRange(free, k.objectid(), k.objectid() + k.offset());
                continue;
            }
            for (long s = 0; s < k.offset() / sectorsize; s++) {
                int bits = Byte.toUnsignedInt(c.buffer().get(c.dataOffset() + (int) (s >>> 3)));
                if ((bits & (1 << (s & 7))) != 0) addRange(free, k.objectid() + s * sectorsize,
                        k.objectid() + (s + 1) * sectorsize);
            }
        }
        for (BlockGroup g : groups.all()) {
            TreeMap<Long, Long> free = recorded.get(g.start());
            if (free == null) throw fail("block group " + g.start() + " has no free-space info");
            String diff = firstDifference(free, gaps.get(g.start()));
            if (diff != null) throw fail("block group " + g.start() + ": the free-space tree " + diff);
            if (infos.get(g.start()).extentCount() != free.size()) {
                throw fail("block group " + g.start() + ": free-space info counts "
                        + infos.get(g.start()).extentCount() + " extents, its items hold " + free.size());
            }
        }
    }

    /** Adds [s, e) to ranges in address order, merging it with a range that ends at s. */
    private static void addRange(TreeMap<Long, Long> ranges, long s, long e) {
        Map.Entry<Long, Long> last = ranges.lastEntry();
        if (last != null && last.getValue() == s) ranges.put(last.getKey(), e);
        else ranges.put(s, e);
    }

    /** Null when {@code have} and the extent tree's gaps are the same ranges, else the first one that differs. */
    private static String firstDifference(NavigableMap<Long, Long> have, NavigableMap<Long, Long> want) {
        if (have.equals(want)) return null;
        for (Map.Entry<Long, Long> w : want.entrySet()) {
            Long h = have.get(w.getKey());
            if (h == null || !h.equals(w.getValue())) {
                return "lacks the free range " + w.getKey() + ".." + w.getValue()
                        + (h == null ? "" : " (has .." + h + ")");
            }
        }
        for (Map.Entry<Long, Long> h : have.entrySet()) {
            if (!want.containsKey(h.getKey())) return "has " + h.getKey() + ".." + h.getValue() + ", which is used";
        }
        return "differs";
    }

    private BTree tree(long id) throws FsException {
        BTree t = tx.tree(id);
        if (t != null) return t;
        tx.root(id); // loads the committed root without changing it
        return tx.tree(id);
    }

    private SpaceAccountingException fail(String problem) {
        return new SpaceAccountingException("transaction " + tx.transid() + ": " + problem);
    }
}
