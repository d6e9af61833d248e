package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeBlockStore;
import jbtrfs.ctree.TreeEditor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
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
    private final Map<Long, TreeRoot> changedRoots = new LinkedHashMap<>();
    /** Tree blocks created in this transaction: bytenr -> owner and level; whether the extent tree has them. */
    private final Map<Long, NewBlock> created = new HashMap<>();
    /** Committed tree blocks this transaction no longer references. */
    private final List<FreedBlock> freed = new ArrayList<>();
    private final DataRefs dataRefs = new DataRefs();
    private long edits;

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

    /** A tree block whose extent item the commit deletes; {@code committed} ones are pinned, others released. */
    record FreedBlock(long bytenr, long owner, int level, boolean committed) {
    }

    /** Finds the committed root of a tree (from its root item, or the superblock for the root and chunk trees). */
    public interface RootLoader {
        TreeRoot load(long treeId) throws FsException;
    }

    public Transaction(TreeBlockReader reader, BlockGroups blockGroups, long transid, int nodesize, byte[] fsid,
                       byte[] chunkTreeUuid, RootLoader roots) {
        this.reader = reader;
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

    /** The tree {@code id} as this transaction sees it, or null when it has not touched it. */
    public BTree tree(long id) {
        TreeRoot r = changedRoots.get(id);
        return r == null ? null : new BTree(this, id, r.bytenr(), r.level(), r.generation());
    }

    /** The trees this transaction loaded (some may be unchanged). */
    Map<Long, TreeRoot> roots() { return changedRoots; }

    /** Whether anything changed. */
    public boolean isEmpty() { return dirty.isEmpty() && freed.isEmpty() && dataRefs.isEmpty(); }

    Map<Long, ByteBuffer> dirtyBlocks() { return dirty; }

    Map<Long, NewBlock> created() { return created; }

    List<FreedBlock> freed() { return freed; }

    /** Bytes of tree blocks this transaction holds in memory. */
    public long dirtyBytes() { return (long) dirty.size() * reader.nodesize(); }

    @Override
    public TreeBlock read(long bytenr, long expectedGeneration, int expectedLevel, long owner)
            throws CorruptBlockException {
        ByteBuffer d = dirty.get(bytenr);
        if (d != null) return new TreeBlock(bytenr, d.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
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
        dirty.put(bytenr, block);
    }

    @Override
    public void free(long bytenr, long owner, int level) {
        edits++;
        NewBlock n = created.remove(bytenr);
        dirty.remove(bytenr);
        if (n == null) {
            freed.add(new FreedBlock(bytenr, owner, level, true));
        } else if (n.recorded) {
            freed.add(new FreedBlock(bytenr, owner, level, false));
        } else {
            blockGroups.release(bytenr, reader.nodesize());
        }
    }
}
