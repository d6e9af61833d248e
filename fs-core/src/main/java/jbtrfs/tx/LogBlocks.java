package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockStore;
import jbtrfs.format.BlockGroupFlags;

/**
 * The tree blocks of the running transaction's log trees, all held in memory. They come from metadata space but
 * never reach the extent tree (the kernel's replay pins them; its commit frees them): every one stays taken until
 * the commit that drops the log, since a superblock on disk may point at it until then. A block written by one
 * log sync is copied on its next change, so the log on disk stays whole until the next superblock replaces it.
 */
final class LogBlocks implements TreeBlockStore {
    private final BlockGroups groups;
    private final int nodesize;
    /** Every block the logs reference now. */
    private final Map<Long, ByteBuffer> live = new HashMap<>();
    /** The live blocks changed since the last log sync. */
    private final Map<Long, ByteBuffer> unwritten = new LinkedHashMap<>();
    /** Every address taken for a log block in this transaction, referenced or not. */
    private final List<Long> taken = new ArrayList<>();

    LogBlocks(BlockGroups groups, int nodesize) {
        this.groups = groups;
        this.nodesize = nodesize;
    }

    @Override
    public TreeBlock read(long bytenr, long expectedGeneration, int expectedLevel, long owner)
            throws CorruptBlockException {
        ByteBuffer b = live.get(bytenr);
        if (b == null) throw new CorruptBlockException(owner, bytenr, -1, "not a block of the running log");
        return new TreeBlock(bytenr, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public ByteBuffer dirty(long bytenr) { return unwritten.get(bytenr); }

    @Override
    public long allocate(long owner, int level) throws FsException {
        long bytenr = groups.allocateTreeBlock(BlockGroupFlags.METADATA);
        taken.add(bytenr); // freed with the log by the next commit, whatever happens below
        if (groups.anyNew()) {
            // as the kernel's btrfs_make_block_group forces: only the commit puts a new chunk in the chunk tree and
            // its block group in the committed trees, so neither a superblock naming this log could reach a log
            // block there nor the kernel's replay place a logged extent there (EINVAL: the image would not mount).
            // Every log sync with changes copies a block, so each one meets this.
            throw new FsException(Errno.EAGAIN, "a block group was made in this transaction");
        }
        return bytenr;
    }

    @Override
    public void putDirty(long bytenr, ByteBuffer block) {
        live.put(bytenr, block);
        unwritten.put(bytenr, block);
    }

    @Override
    public void free(long bytenr, long owner, int level) {
        // the space stays taken: the log on disk may still point at the block until the next log sync
        live.remove(bytenr);
        unwritten.remove(bytenr);
    }

    /** The blocks the next log sync writes. */
    Map<Long, ByteBuffer> unwritten() { return unwritten; }

    /** The log sync wrote them: the next change to any of them copies it. */
    void written() { unwritten.clear(); }

    /**
     * The commit drops the log: its space is free once that commit's superblock is on disk (pinned until then,
     * as the superblock before it may still name the log).
     */
    void pinAll() {
        for (long bytenr : taken) groups.pin(bytenr, nodesize);
        taken.clear();
        live.clear();
        unwritten.clear();
    }

    /** Bytes taken for log blocks in this transaction. */
    long bytes() { return (long) taken.size() * nodesize; }
}
