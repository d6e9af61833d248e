package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.ExtentDataRef;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.Header;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;

/**
 * The trees a commit derives from a transaction's changes (≈ btrfs_run_delayed_refs, the items half of
 * btrfs_write_dirty_block_groups, commit_cowonly_roots and the root items of commit_fs_roots): chunk and dev
 * items, the extent tree's back references, block group items, the free-space tree or v1 cache items, and root
 * items, folded in again and again until they settle, since each of these edits may copy more tree blocks, which
 * need extent items of their own. {@link Commit} runs it before anything is written.
 */
final class DerivedTrees {
    private static final int MAX_ROUNDS = 256;
    private static final long RESERVED_CHUNK_OBJECTID = 256;

    private final Transaction tx;
    private final BlockGroups groups;
    private final CsumItems csums;
    private final int nodesize;
    private final int sectorsize;
    private final boolean skinny;
    private final long blockGroupTree;
    private final boolean freeSpaceTree;

    private final ChunkMaker chunks;
    private final FreeSpaceTreeWriter freeSpace;
    private final SpaceCacheWriter spaceCache;

    private final Clock clock;

    DerivedTrees(Transaction tx, CsumItems csums, int nodesize, int sectorsize, boolean skinnyMetadata,
                 boolean blockGroupTree, boolean freeSpaceTree, ChunkMaker chunks, SpaceCacheWriter spaceCache,
                 Clock clock) {
        this.clock = clock;
        this.chunks = chunks;
        this.spaceCache = spaceCache;
        this.freeSpace = new FreeSpaceTreeWriter(tx, sectorsize);
        this.tx = tx;
        this.groups = tx.blockGroups();
        this.csums = csums;
        this.nodesize = nodesize;
        this.sectorsize = sectorsize;
        this.skinny = skinnyMetadata;
        this.blockGroupTree = blockGroupTree ? ObjectIds.BLOCK_GROUP_TREE : ObjectIds.EXTENT_TREE;
        this.freeSpaceTree = freeSpaceTree;
    }

    /** Brings every derived tree up to date with the transaction's changes; returns the rounds it took. */
    int settle() throws FsException {
        for (int round = 1; round <= MAX_ROUNDS; round++) {
            boolean changed = chunks.writePending(tx);
            changed |= applyDataRefs();
            changed |= applyTreeRefs();
            changed |= recordNewTreeBlocks();
            changed |= dropFreedTreeBlocks();
            if (spaceCache != null) changed |= spaceCache.update();
            changed |= writeBlockGroupItems();
            if (freeSpaceTree) changed |= writeFreeSpaceTree();
            changed |= writeRootItems();
            if (!changed) {
                if (CommitCheck.ENABLED) CommitCheck.verify(tx, nodesize, sectorsize, blockGroupTree, freeSpaceTree);
                return round;
            }
        }
        throw new IllegalStateException("the commit's tree updates did not settle in " + MAX_ROUNDS + " rounds");
    }

    // ---- extent tree: tree blocks ----

    private boolean recordNewTreeBlocks() throws FsException {
        List<Map.Entry<Long, Transaction.NewBlock>> todo = new ArrayList<>();
        for (Map.Entry<Long, Transaction.NewBlock> e : tx.created().entrySet()) {
            if (!e.getValue().recorded) todo.add(e);
        }
        TreeRoot extentRoot = tx.root(ObjectIds.EXTENT_TREE);
        for (Map.Entry<Long, Transaction.NewBlock> e : todo) {
            long bytenr = e.getKey();
            Transaction.NewBlock b = e.getValue();
            if (!tx.created().containsKey(bytenr)) continue; // freed by an earlier edit of this loop
            b.recorded = true;
            List<ExtentItem.InlineRef> refs = List.of(ExtentItem.InlineRef.treeBlock(b.owner));
            if (skinny) {
                ExtentItem item = new ExtentItem(1, tx.transid(), ExtentItem.FLAG_TREE_BLOCK, null, 0, refs);
                tx.editor().insert(extentRoot, new Key(bytenr, KeyType.METADATA_ITEM, b.level), item.encode());
            } else {
                ByteBuffer blk = tx.dirty(bytenr);
                Key first = blk == null || blk.getInt(Header.OFFSET_NRITEMS) == 0 ? new Key(0, 0, 0)
                        : Key.read(blk, Header.SIZE);
                ExtentItem item = new ExtentItem(1, tx.transid(), ExtentItem.FLAG_TREE_BLOCK, first, b.level, refs);
                tx.editor().insert(extentRoot, new Key(bytenr, KeyType.EXTENT_ITEM, nodesize), item.encode());
            }
        }
        return !todo.isEmpty();
    }

    /** Blocks made and dropped in this transaction after their extent items went in: the items go again. */
    private boolean dropFreedTreeBlocks() throws FsException {
        if (tx.freed().isEmpty()) return false;
        List<Transaction.FreedBlock> todo = new ArrayList<>(tx.freed());
        tx.freed().clear();
        TreeRoot extentRoot = tx.root(ObjectIds.EXTENT_TREE);
        for (Transaction.FreedBlock f : todo) {
            Key key = skinny ? new Key(f.bytenr(), KeyType.METADATA_ITEM, f.level())
                    : new Key(f.bytenr(), KeyType.EXTENT_ITEM, nodesize);
            if (!tx.editor().delete(extentRoot, key)) {
                throw new CorruptBlockException(ObjectIds.EXTENT_TREE, f.bytenr(), -1,
                        "no extent item for dropped tree block " + f.bytenr() + " of tree " + f.owner());
            }
            groups.release(f.bytenr(), nodesize);
        }
        return true;
    }

    /**
     * Folds tree block reference changes into the extent items (inline refs changed in place, new refs as keyed
     * items, which the kernel finds after the inline ones); a committed block left with no reference is freed.
     */
    /** A data reference count the change would take below zero: the extent tree holds fewer than point at it. */
    private static CorruptBlockException belowZero(Cursor extentItem, DataRefs.Ref r, int count) {
        return extentItem.corrupt("data reference " + r + " would count " + count + " (the extent tree holds fewer "
                + "references than the files that point at the extent)");
    }

    private boolean applyTreeRefs() throws FsException {
        Map<Long, TreeRefs.Block> pending = tx.treeRefs().drain();
        if (pending.isEmpty()) return false;
        TreeRoot extentRoot = tx.root(ObjectIds.EXTENT_TREE);
        for (Map.Entry<Long, TreeRefs.Block> e : pending.entrySet()) {
            long bytenr = e.getKey();
            TreeRefs.Block b = e.getValue();
            Cursor c = Transaction.treeBlockItem(tx.tree(ObjectIds.EXTENT_TREE), bytenr, b.level, nodesize);
            Key key = c.key();
            ExtentItem item = c.decode((buf, off, size) -> ExtentItem.read(buf, off, size,
                    key.type() == KeyType.METADATA_ITEM));
            List<ExtentItem.InlineRef> inline = new ArrayList<>(item.inlineRefs());
            long refs = item.refs();
            for (Map.Entry<TreeRefs.Ref, Integer> d : b.deltas.entrySet()) {
                int delta = d.getValue();
                if (delta == 0) continue;
                TreeRefs.Ref r = d.getKey();
                int type = r.parent() != 0 ? KeyType.SHARED_BLOCK_REF : KeyType.TREE_BLOCK_REF;
                long offset = r.parent() != 0 ? r.parent() : r.root();
                refs += delta;
                int at = -1;
                for (int i = 0; i < inline.size(); i++) {
                    if (inline.get(i).type() == type && inline.get(i).offset() == offset) at = i;
                }
                Key keyed = new Key(bytenr, type, offset);
                boolean present = at >= 0 || tx.tree(ObjectIds.EXTENT_TREE).find(keyed) != null;
                if (delta < 0 && present && delta == -1) {
                    if (at >= 0) inline.remove(at);
                    else tx.editor().delete(extentRoot, keyed);
                } else if (delta == 1 && !present) {
                    tx.editor().insert(extentRoot, keyed, new byte[0]);
                } else {
                    // the extent tree disagrees with the trees that point at the block: it is damaged
                    throw c.corrupt("back reference " + r + " of tree block " + bytenr + " changes by " + delta
                            + " but is " + (present ? "" : "not ") + "there");
                }
            }
            if (refs == 0) {
                tx.editor().delete(extentRoot, key);
                deleteKeyedRefs(extentRoot, bytenr);
                groups.pin(bytenr, nodesize);
            } else {
                tx.editor().put(extentRoot, key, new ExtentItem(refs, item.generation(), item.flags() | b.setFlags,
                        item.treeBlockKey(), item.treeBlockLevel(), inline).encode());
            }
        }
        return true;
    }

    /** Deletes the back reference items keyed under extent {@code bytenr} (refs that did not fit inline). */
    private void deleteKeyedRefs(TreeRoot extentRoot, long bytenr) throws FsException {
        List<Key> keys = new ArrayList<>();
        Cursor c = tx.tree(ObjectIds.EXTENT_TREE).seek(new Key(bytenr, KeyType.TREE_BLOCK_REF, 0));
        while (c.valid() && c.key().objectid() == bytenr) {
            int t = c.key().type();
            if (t == KeyType.TREE_BLOCK_REF || t == KeyType.EXTENT_DATA_REF || t == KeyType.SHARED_BLOCK_REF
                    || t == KeyType.SHARED_DATA_REF) {
                keys.add(c.key());
            }
            c.next();
        }
        for (Key k : keys) tx.editor().delete(extentRoot, k);
    }

    // ---- extent tree: data extents ----

    private boolean applyDataRefs() throws FsException {
        Map<Long, DataRefs.Extent> pending = tx.dataRefs().drain();
        if (pending.isEmpty()) return false;
        TreeRoot extentRoot = tx.root(ObjectIds.EXTENT_TREE);
        for (Map.Entry<Long, DataRefs.Extent> e : pending.entrySet()) {
            long bytenr = e.getKey();
            DataRefs.Extent x = e.getValue();
            Key key = new Key(bytenr, KeyType.EXTENT_ITEM, x.numBytes);
            if (x.allocatedHere) {
                List<ExtentItem.InlineRef> live = new ArrayList<>();
                long total = 0;
                for (Map.Entry<DataRefs.Ref, Integer> d : x.deltas.entrySet()) {
                    if (d.getValue() < 0) throw new IllegalStateException("negative refs on new extent " + bytenr);
                    if (d.getValue() == 0) continue;
                    DataRefs.Ref r = d.getKey();
                    live.add(ExtentItem.InlineRef.dataRef(r.root(), r.objectid(), r.offset(), d.getValue()));
                    total += d.getValue();
                }
                if (total == 0) {
                    csums.delete(tx, bytenr, x.numBytes);
                    groups.release(bytenr, x.numBytes);
                    continue;
                }
                // one ref inline; more go to keyed items, whose order needs no care
                ExtentItem item = new ExtentItem(total, tx.transid(), ExtentItem.FLAG_DATA, null, 0,
                        live.size() == 1 ? live : List.of());
                tx.editor().insert(extentRoot, key, item.encode());
                if (live.size() > 1) {
                    for (ExtentItem.InlineRef r : live) {
                        tx.editor().insert(extentRoot, dataRefKey(bytenr, r.root(), r.objectid(), r.fileOffset()),
                                new ExtentDataRef(r.root(), r.objectid(), r.fileOffset(), r.count()).encode());
                    }
                }
                continue;
            }
            Cursor c = tx.tree(ObjectIds.EXTENT_TREE).find(key);
            if (c == null) {
                throw new CorruptBlockException(ObjectIds.EXTENT_TREE, bytenr, -1, "no extent item " + key);
            }
            ExtentItem item = c.decode((buf, off, size) -> ExtentItem.read(buf, off, size, false));
            List<ExtentItem.InlineRef> inline = new ArrayList<>(item.inlineRefs());
            long refs = item.refs();
            for (Map.Entry<DataRefs.Ref, Integer> d : x.deltas.entrySet()) {
                int delta = d.getValue();
                if (delta == 0) continue;
                DataRefs.Ref r = d.getKey();
                refs += delta;
                int at = -1;
                for (int i = 0; i < inline.size(); i++) {
                    ExtentItem.InlineRef ir = inline.get(i);
                    if (r.isShared() ? ir.type() == KeyType.SHARED_DATA_REF && ir.offset() == r.parent()
                            : ir.type() == KeyType.EXTENT_DATA_REF && ir.root() == r.root()
                            && ir.objectid() == r.objectid() && ir.fileOffset() == r.offset()) {
                        at = i;
                    }
                }
                if (at >= 0) {
                    int count = inline.get(at).count() + delta;
                    if (count < 0) throw belowZero(c, r, count);
                    if (count == 0) inline.remove(at);
                    else inline.set(at, inline.get(at).withCount(count));
                    continue;
                }
                if (r.isShared()) {
                    // SHARED_DATA_REF item: keyed by the parent leaf, its data the count
                    Key sk = new Key(bytenr, KeyType.SHARED_DATA_REF, r.parent());
                    Cursor sc = tx.tree(ObjectIds.EXTENT_TREE).find(sk);
                    int count = (sc == null ? 0 : sc.decode(4, (b, off) -> b.getInt(off))) + delta;
                    if (count < 0) throw belowZero(c, r, count);
                    if (count == 0) tx.editor().delete(extentRoot, sk);
                    else tx.editor().put(extentRoot, sk, ByteBuffer.allocate(4)
                            .order(ByteOrder.LITTLE_ENDIAN).putInt(0, count).array());
                    continue;
                }
                Key rk = dataRefKey(bytenr, r.root(), r.objectid(), r.offset());
                Cursor rc = tx.tree(ObjectIds.EXTENT_TREE).find(rk);
                int count = (rc == null ? 0 : rc.decode(ExtentDataRef.SIZE, ExtentDataRef::read).count()) + delta;
                if (count < 0) throw belowZero(c, r, count);
                if (count == 0) tx.editor().delete(extentRoot, rk);
                else tx.editor().put(extentRoot, rk, new ExtentDataRef(r.root(), r.objectid(), r.offset(), count)
                        .encode());
            }
            if (refs == 0) {
                tx.editor().delete(extentRoot, key);
                deleteKeyedRefs(extentRoot, bytenr);
                csums.delete(tx, bytenr, x.numBytes);
                groups.pin(bytenr, x.numBytes);
            } else {
                tx.editor().put(extentRoot, key, item.withRefs(refs, inline).encode());
            }
        }
        return true;
    }

    private static Key dataRefKey(long bytenr, long root, long objectid, long offset) {
        return new Key(bytenr, KeyType.EXTENT_DATA_REF, NameHash.extentDataRef(root, objectid, offset));
    }

    // ---- block groups and free space ----

    private boolean writeBlockGroupItems() throws FsException {
        boolean changed = false;
        for (BlockGroup bg : groups.dirty()) {
            Key key = new Key(bg.start(), KeyType.BLOCK_GROUP_ITEM, bg.length());
            byte[] want = new BlockGroupItem(bg.usedAfterCommit(), RESERVED_CHUNK_OBJECTID, bg.flags()).encode();
            TreeRoot root = tx.root(blockGroupTree);
            Cursor c = tx.tree(blockGroupTree).find(key);
            if (c != null && equalsItem(c, want)) continue;
            tx.editor().put(root, key, want);
            changed = true;
        }
        return changed;
    }

    /** Each dirty block group's free-space tree items, as {@link FreeSpaceTreeWriter} keeps them. */
    private boolean writeFreeSpaceTree() throws FsException {
        boolean changed = false;
        for (BlockGroup bg : groups.dirty()) changed |= freeSpace.update(bg);
        return changed;
    }

    // ---- root items ----

    private boolean writeRootItems() throws FsException {
        boolean changed = false;
        for (Map.Entry<Long, TreeRoot> e : new ArrayList<>(tx.roots().entrySet())) {
            long id = e.getKey();
            if (id == ObjectIds.ROOT_TREE || id == ObjectIds.CHUNK_TREE) continue;
            TreeRoot r = e.getValue();
            TreeRoot rootTree = tx.root(ObjectIds.ROOT_TREE);
            Cursor c = tx.tree(ObjectIds.ROOT_TREE).seekFloor(Key.last(id, KeyType.ROOT_ITEM));
            if (!c.valid() || c.key().objectid() != id || c.key().type() != KeyType.ROOT_ITEM) {
                throw new CorruptBlockException(ObjectIds.ROOT_TREE, 0, -1, "no root item for tree " + id);
            }
            Key key = c.key();
            ByteBuffer item = ByteBuffer.allocate(c.dataSize()).order(ByteOrder.LITTLE_ENDIAN);
            c.buffer().get(c.dataOffset(), item.array());
            if (item.getLong(RootItem.OFFSET_BYTENR) == r.bytenr()
                    && Byte.toUnsignedInt(item.get(RootItem.OFFSET_LEVEL)) == r.level()
                    && item.getLong(RootItem.OFFSET_GENERATION) == r.generation()) {
                continue;
            }
            item.putLong(RootItem.OFFSET_BYTENR, r.bytenr());
            item.put(RootItem.OFFSET_LEVEL, (byte) r.level());
            item.putLong(RootItem.OFFSET_GENERATION, tx.transid());
            if (item.capacity() >= RootItem.SIZE) {
                item.putLong(RootItem.OFFSET_GENERATION_V2, tx.transid());
                if (ObjectIds.isSubvolume(id)) {
                    item.putLong(RootItem.OFFSET_CTRANSID, tx.transid());
                    long now = clock.millis();
                    item.putLong(RootItem.OFFSET_CTIME, now / 1000).putInt(RootItem.OFFSET_CTIME + 8,
                            (int) (now % 1000) * 1_000_000);
                }
            }
            tx.editor().put(rootTree, key, item.array());
            changed = true;
        }
        return changed;
    }

    private static boolean equalsItem(Cursor c, byte[] want) {
        if (c.dataSize() != want.length) return false;
        for (int i = 0; i < want.length; i++) {
            if (c.buffer().get(c.dataOffset() + i) != want[i]) return false;
        }
        return true;
    }

}
