package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.volumes.Volume;

/**
 * One commit of the running transaction, top to bottom as btrfs_commit_transaction: {@link #run} lists its stages.
 * A failure in any stage aborts the transaction (≈ btrfs_abort_transaction): no superblock references anything of
 * it, so the image stays at the last commit, and the filesystem turns read-only.
 */
final class Commit {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionManager.class);
    /** Cache writeouts one commit may take before we call the settling broken. */
    private static final int MAX_CACHE_PASSES = 8;

    private final TransactionManager txm;
    private final Transaction tx;
    private final Volume volume;
    private final DerivedTrees trees;
    /** The v1 space cache of this commit, or null without one. */
    private final SpaceCacheWriter spaceCache;
    private final DirtyBlockGroupWriteout cacheWriteout;
    private final SuperWriter writer;
    /** What the commit is doing, for the abort's reason. */
    private String stage;
    private int rounds;

    Commit(TransactionManager txm, Transaction tx, Volume volume, DerivedTrees trees, SpaceCacheWriter spaceCache,
           DirtyBlockGroupWriteout cacheWriteout, SuperWriter writer) {
        this.txm = txm;
        this.tx = tx;
        this.volume = volume;
        this.trees = trees;
        this.spaceCache = spaceCache;
        this.cacheWriteout = cacheWriteout;
        this.writer = writer;
    }

    /**
     * Commits {@code tx}. Prepare and finish change memory under the caller's write lock; the writeout between
     * them only reads it, under the read lock {@code locks} downgrades to.
     */
    TransactionManager.CommitStats run(CommitLocks locks) throws FsException {
        long t0 = System.nanoTime();
        DirtyBlockGroupWriteout.CacheWriteout caches;
        ByteBuffer superBlock;
        SuperWriter.Writeout blocks;
        try {
            // prepare: settle the trees (delayed refs, block groups, free space), write the v1 caches, which
            // settles them again, and build the superblock that will point at the result
            stage = "while settling the trees";
            rounds = trees.settle();
            caches = spaceCache == null ? null : writeSpaceCaches();
            stage = "while building the superblock";
            superBlock = txm.nextSuperBlock(tx);
            locks.downgrade();
            try {
                // write: the file data the new trees point at goes first, then the tree blocks in two stages
                stage = "while writing the file data";
                volume.drainWrites();
                stage = "while writing the tree blocks";
                SuperWriter.BlocksInFlight inFlight = writer.startBlockWrites(tx, txm.fsidOfBlocks()); // stage one
                blocks = writer.waitBlockIo(inFlight); // stage two
                // superblocks: flush, every copy, flush
                stage = "while writing the superblocks";
                writer.writeSuperBlocks(superBlock);
            } finally {
                locks.upgrade();
            }
        } catch (IOException | RuntimeException e) {
            throw txm.failed(tx.transid(), "the commit failed " + stage, e);
        }
        // finish: the written state becomes the committed one; pinned extents become free; listeners hear of it
        txm.switchRoots(tx, superBlock);
        tx.blockGroups().committed();
        txm.ended();
        TransactionManager.CommitStats stats = new TransactionManager.CommitStats(tx.transid(), rounds, blocks,
                caches, System.nanoTime() - t0);
        LOG.debug("committed transaction {}: {} tree blocks in {} rounds", tx.transid(), blocks.treeBlocks(), rounds);
        txm.tellListener(stats);
        return stats;
    }

    /**
     * The v1 caches of the dirty block groups (≈ btrfs_start_dirty_block_groups and
     * btrfs_write_dirty_block_groups): their pages go out before the tree blocks that point at them, in two stages;
     * a group whose write failed is marked invalid by another settle, and any file that settle changed goes again.
     */
    private DirtyBlockGroupWriteout.CacheWriteout writeSpaceCaches() throws IOException {
        volume.drainWrites(); // file data first: a cache extent may take space a write just left
        DirtyBlockGroupWriteout.CacheWriteout caches = DirtyBlockGroupWriteout.CacheWriteout.NONE;
        for (int pass = 0; ; pass++) {
            List<SpaceCacheWriter.PendingWrite> todo = spaceCache.unwritten();
            if (todo.isEmpty()) return caches;
            if (pass == MAX_CACHE_PASSES) {
                throw new IllegalStateException("space caches still changing after " + pass + " writeouts");
            }
            stage = "while writing the space caches";
            DirtyBlockGroupWriteout.InFlight pages = cacheWriteout.startCacheWrites(todo);
            DirtyBlockGroupWriteout.CacheWriteout out = cacheWriteout.waitCacheIo(pages);
            caches = pass == 0 ? out : caches.plus(out);
            spaceCache.written(todo, out.failed());
            stage = "while settling the trees";
            rounds += trees.settle();
        }
    }
}
