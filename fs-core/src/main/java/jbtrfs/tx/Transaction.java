package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongUnaryOperator;

import jbtrfs.CorruptBlockException;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeBlockStore;
import jbtrfs.ctree.TreeEditor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Header;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;

/**
 * The running transaction (≈ btrfs_trans_handle and its transaction): the tree blocks it copied or created, the
 * roots it moved, the tree blocks and data extents whose back references the commit must record or drop.
 * Changes only under the filesystem's write lock; reads of its trees go through {@link #tree}.
 */
public final class Transaction implements TreeBlockStore {
    private final TreeBlockReader reader;
    private final BlockGroups blockGroups;
    private final long transid;
    private final TreeEditor editor;
    private final RootLoader roots;
    private final Map<Long, ByteBuffer> dirty = new LinkedHashMap<>();
    /**
     * A read-only view of each dirty buffer, made when the buffer is put: every search reads the blocks it passes
     * through, and a new view per read was a tenth of a create's allocations. Views share the buffer's bytes, so
     * changes in place show through; readers use absolute offsets only, as they do on cached committed blocks.
     */
    private final Map<Long, TreeBlock> views = new HashMap<>();
    private final Map<Long, TreeRoot> changedRoots = new LinkedHashMap<>();
    /** Tree blocks created in this transaction: bytenr -> owner and level; whether the extent tree has them. */
    private final Map<Long, NewBlock> created = new HashMap<>();
    /** Committed tree blocks this transaction no longer references. */
    private final List<FreedBlock> freed = new ArrayList<>();
    private final DataRefs dataRefs = new DataRefs();
    private final TreeRefs treeRefs = new TreeRefs();
    private final LongUnaryOperator lastSnapshot;
    /** Trees snapshotted in this transaction: their last_snapshot is this transid before any commit says so. */
    private final Set<Long> snapshotted = new HashSet<>();
    private long edits;
    /** Counts block changes; each dirty block keeps the count of its last change (an fsync logs what moved since). */
    private long changeSeq;
    private final Map<Long, Long> changedAt = new HashMap<>();
    private boolean mustCommit;
    private boolean rebuildFreeSpaceTree;

    /** A tree block made in this transaction. */
    static final class NewBlock {
        final long owner;
        final int level;
        boolean recorded;

        NewBlock(long owner, int level) {
            this.owner = owner;
            this.level = level;
        }
    }

    /** A block made and dropped in this transaction after the commit recorded its extent item: it goes again. */
    record FreedBlock(long bytenr, long owner, int level) {
    }

    /** Finds the committed root of a tree (from its root item, or the superblock for the root and chunk trees). */
    public interface RootLoader {
        TreeRoot load(long treeId) throws FsException;
    }

    /**
     * @param lastSnapshot a tree's root item last_snapshot (the transid of its newest snapshot, 0 for none): blocks
     *                     written up to then may be shared with a snapshot
     */
    public Transaction(TreeBlockReader reader, BlockGroups blockGroups, long transid, int nodesize, byte[] fsid,
                       byte[] chunkTreeUuid, RootLoader roots, LongUnaryOperator lastSnapshot) {
        this.reader = reader;
        this.lastSnapshot = lastSnapshot;
        this.blockGroups = blockGroups;
        this.transid = transid;
        this.roots = roots;
        this.editor = new TreeEditor(this, nodesize, transid, fsid, chunkTreeUuid);
    }

    public long transid() { return transid; }

    /** How many block changes this transaction has seen (a change that failed after editing moved it). */
    public long edits() { return edits + dataRefs.changes(); }

    public TreeEditor editor() { return editor; }

    public DataRefs dataRefs() { return dataRefs; }

    public BlockGroups blockGroups() { return blockGroups; }

    /** The live root of tree {@code id}, loaded on first use; changes made through {@link #editor()} move it. */
    public TreeRoot root(long id) throws FsException {
        TreeRoot r = changedRoots.get(id);
        if (r == null) {
            r = roots.load(id);
            changedRoots.put(id, r);
        }
        return r;
    }

    /** Makes a new, empty tree {@code id} (its root item is the caller's to insert). */
    public TreeRoot createTree(long id) throws FsException {
        TreeRoot r = editor.createTree(id);
        changedRoots.put(id, r);
        return r;
    }

    /**
     * The root of a snapshot {@code newId} of tree {@code source} as it was last committed (≈ btrfs_copy_root): a
     * copy of the source's root block owned by {@code newId}, whose children (or file extents) each gain a
     * reference by the new root. The root item pointing at it is the caller's to insert.
     */
    public TreeRoot copyRoot(long source, long newId) throws FsException {
        TreeRoot src = roots.load(source);
        TreeRoot live = changedRoots.get(source);
        if (live != null && live.bytenr() != src.bytenr()) {
            throw new IllegalStateException("snapshot of tree " + source + " before its changes were committed");
        }
        TreeBlock block = reader.read(src.bytenr(), src.generation(), src.level(), source);
        TreeBlock copy = editor.copyBlock(block, newId);
        changeChildRefs(copy, newId, false, +1);
        // the source's blocks are shared from now on, also for a change later in this transaction (a snapshot
        // linked into its own source: create_pending_snapshot moves last_snapshot in the root item it holds)
        snapshotted.add(source);
        snapshotted.add(newId);
        return new TreeRoot(newId, copy.bytenr(), copy.level(), transid);
    }

    /**
     * Forgets tree {@code id}, which this transaction only read (a dropped tree whose root item goes): the commit
     * must not look for its root item. A tree this transaction changed cannot be forgotten.
     */
    public void forgetTree(long id) throws FsException {
        TreeRoot r = changedRoots.get(id);
        if (r == null) return;
        if (r.bytenr() != roots.load(id).bytenr()) {
            throw new IllegalStateException("tree " + id + " changed in the transaction that drops it");
        }
        changedRoots.remove(id);
    }

    /** The tree {@code id} as this transaction sees it, or null when it has not touched it. */
    public BTree tree(long id) {
        TreeRoot r = changedRoots.get(id);
        return r == null ? null : new BTree(this, id, r.bytenr(), r.level(), r.generation());
    }

    /** The trees this transaction loaded (some may be unchanged). */
    Map<Long, TreeRoot> roots() { return changedRoots; }

    /** Whether anything changed. */
    public boolean isEmpty() {
        return !mustCommit && dirty.isEmpty() && freed.isEmpty() && dataRefs.isEmpty() && treeRefs.isEmpty();
    }

    /** Makes this transaction commit even when no tree changed yet (its settle may change some: a rebuild). */
    public void mustCommit() { mustCommit = true; }

    /** The commit rewrites every dirty group's free-space tree items instead of correcting them. */
    public void rebuildFreeSpaceTree() {
        rebuildFreeSpaceTree = true;
        mustCommit = true;
    }

    boolean rebuildsFreeSpaceTree() { return rebuildFreeSpaceTree; }

    TreeRefs treeRefs() { return treeRefs; }

    Map<Long, ByteBuffer> dirtyBlocks() { return dirty; }

    Map<Long, NewBlock> created() { return created; }

    List<FreedBlock> freed() { return freed; }

    /** The count of block changes so far in this transaction. */
    public long changeSequence() { return changeSeq; }

    /** The {@link #changeSequence} of block {@code bytenr}'s last change in this transaction, 0 for none. */
    public long changedAt(long bytenr) { return changedAt.getOrDefault(bytenr, 0L); }

    /** Bytes of tree blocks this transaction holds in memory. */
    public long dirtyBytes() { return (long) dirty.size() * reader.nodesize(); }

    @Override
    public TreeBlock read(long bytenr, long expectedGeneration, int expectedLevel, long owner)
            throws CorruptBlockException {
        TreeBlock d = views.get(bytenr);
        if (d != null) return d;
        return reader.read(bytenr, expectedGeneration, expectedLevel, owner);
    }

    @Override
    public ByteBuffer dirty(long bytenr) { return dirty.get(bytenr); }

    @Override
    public long allocate(long owner, int level) throws FsException {
        long type = owner == ObjectIds.CHUNK_TREE ? BlockGroupFlags.SYSTEM : BlockGroupFlags.METADATA;
        long bytenr = blockGroups.allocateTreeBlock(type);
        created.put(bytenr, new NewBlock(owner, level));
        return bytenr;
    }

    @Override
    public void putDirty(long bytenr, ByteBuffer block) {
        edits++;
        if (dirty.put(bytenr, block) != block) {
            views.put(bytenr, new TreeBlock(bytenr, block.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN)));
        }
        changedAt.put(bytenr, ++changeSeq);
    }

    @Override
    public void free(long bytenr, long owner, int level) throws FsException {
        edits++;
        NewBlock n = created.remove(bytenr);
        dirty.remove(bytenr);
        views.remove(bytenr);
        if (n == null) {
            releaseCommitted(bytenr, owner, level);
        } else if (n.recorded) {
            freed.add(new FreedBlock(bytenr, owner, level));
        } else {
            blockGroups.release(bytenr, reader.nodesize());
        }
    }

    /**
     * Tree {@code owner} stops referencing the committed block {@code bytenr}, whose contents now live in blocks
     * of {@code owner} (a copy, a merge) or nowhere. A block a snapshot may share keeps its children referenced
     * the kernel's way (update_ref_for_cow): when others still use it and its owner lets it go, its children get
     * references from the block itself (FULL_BACKREF); otherwise the tree's own copy gets references by root.
     * Then the tree's reference to the block goes.
     */
    private void releaseCommitted(long bytenr, long owner, int level) throws FsException {
        if (mayBeShared(bytenr, owner)) {
            TreeBlock block = reader.read(bytenr, 0, level, owner);
            long[] info = extentInfo(bytenr, level);
            long refs = info[0];
            long flags = info[1];
            if (refs > 1) {
                if (block.owner() == owner && (flags & ExtentItem.FLAG_FULL_BACKREF) == 0) {
                    changeChildRefs(block, owner, true, +1);
                    treeRefs.setFlags(bytenr, level, ExtentItem.FLAG_FULL_BACKREF);
                } else {
                    changeChildRefs(block, owner, false, +1);
                }
            } else if ((flags & ExtentItem.FLAG_FULL_BACKREF) != 0) {
                changeChildRefs(block, owner, false, +1);
                changeChildRefs(block, owner, true, -1);
            }
        }
        treeRefs.change(bytenr, level, TreeRefs.Ref.tree(owner), -1);
    }

    /** ≈ btrfs_block_can_be_shared: a subvolume's block, not its root, written no later than its last snapshot. */
    private boolean mayBeShared(long bytenr, long owner) throws FsException {
        if (!ObjectIds.isSubvolume(owner)) return false;
        long last = snapshotted.contains(owner) ? transid : lastSnapshot.applyAsLong(owner);
        if (last == 0) return false;
        if (bytenr == roots.load(owner).bytenr()) return false;
        TreeBlock block = reader.read(bytenr, 0, -1, owner);
        return block.generation() <= last || (block.flags() & Header.FLAG_RELOC) != 0;
    }

    /** Tree block {@code bytenr} loses reference {@code ref} (a dropped tree lets it go). */
    void dropTreeRef(long bytenr, int level, TreeRefs.Ref ref) {
        edits++;
        treeRefs.change(bytenr, level, ref, -1);
    }

    /** Sets extent flags (FULL_BACKREF) on tree block {@code bytenr}. */
    void setTreeBlockFlags(long bytenr, int level, long flags) {
        edits++;
        treeRefs.setFlags(bytenr, level, flags);
    }

    /** References and flags of a committed tree block, with this transaction's pending changes: {refs, flags}. */
    long[] extentInfo(long bytenr, int level) throws FsException {
        root(ObjectIds.EXTENT_TREE);
        Cursor c = treeBlockItem(tree(ObjectIds.EXTENT_TREE), bytenr, level, reader.nodesize());
        boolean skinny = c.key().type() == KeyType.METADATA_ITEM;
        ExtentItem item = c.decode((buf, off, size) -> ExtentItem.read(buf, off, size, skinny));
        long[] pending = treeRefs.pending(bytenr);
        return new long[] {item.refs() + pending[0], item.flags() | pending[1]};
    }

    /** The extent item of tree block {@code bytenr}: skinny (METADATA_ITEM by level) or not (EXTENT_ITEM). */
    static Cursor treeBlockItem(BTree extents, long bytenr, int level, int nodesize) throws CorruptBlockException {
        Cursor c = extents.find(new Key(bytenr, KeyType.METADATA_ITEM, level));
        if (c == null) c = extents.find(new Key(bytenr, KeyType.EXTENT_ITEM, nodesize));
        if (c == null) {
            throw new CorruptBlockException(ObjectIds.EXTENT_TREE, bytenr, -1, "no extent item for tree block "
                    + bytenr);
        }
        return c;
    }

    /**
     * Adds ({@code sign} +1) or drops (-1) the references a block holds: its children's tree block refs, or its
     * file extents' data refs; by root ({@code full} false) or from the block itself ({@code full} true).
     */
    void changeChildRefs(TreeBlock block, long root, boolean full, int sign) throws CorruptBlockException {
        if (block.level() > 0) {
            for (int i = 0; i < block.nritems(); i++) {
                treeRefs.change(block.blockptr(i), block.level() - 1,
                        full ? TreeRefs.Ref.shared(block.bytenr()) : TreeRefs.Ref.tree(root), sign);
            }
            return;
        }
        for (int i = 0; i < block.nritems(); i++) {
            Key k = block.key(i);
            if (k.type() != KeyType.EXTENT_DATA) continue;
            FileExtentItem fe = block.fileExtent(i);
            if (fe.isInline() || fe.diskBytenr() == 0) continue;
            dataRefs.change(fe.diskBytenr(), fe.diskNumBytes(), full ? DataRefs.Ref.shared(block.bytenr())
                    : new DataRefs.Ref(root, k.objectid(), k.offset() - fe.offset()), sign);
        }
    }
}
