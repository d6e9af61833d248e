package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.DevItem;
import jbtrfs.format.Features;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootBackup;
import jbtrfs.format.RootItem;
import jbtrfs.format.SuperBlock;
import jbtrfs.spacecache.SpaceCacheLoader;
import jbtrfs.spacecache.SpaceCachePages;
import jbtrfs.volumes.Volume;

/**
 * Owns the running transaction and commits it (≈ the transaction half of btrfs_fs_info). Callers hold the
 * filesystem's write lock around {@link #current()} edits and {@link #commit()}.
 *
 * <p>A failed commit aborts (≈ btrfs_abort_transaction): nothing of it was referenced by a superblock, so the image
 * is still the last committed transaction; the filesystem turns read-only, every later change gets
 * {@link Errno#EROFS} and every later commit the {@link TransactionAbortedException} (EIO).
 */
public final class TransactionManager {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionManager.class);

    private final Volume volume;
    private final TreeBlockReader reader;
    private final ChecksumType csumType;
    private final int nodesize;
    private final int sectorsize;
    private final BlockGroups groups;
    private final ChunkMaker chunks;
    private final CsumItems csums;
    private final SuperWriter writer;
    private final DirtyBlockGroupWriteout cacheWriteout;
    /** Wall time for the times a commit stamps (root item ctime, cache inodes). */
    private final Clock clock;
    private final boolean skinny;
    /** Incompat bits the next superblock gains (set from FUSE threads, read by the commit). */
    private final AtomicLong addedIncompat = new AtomicLong();
    private final boolean blockGroupTree;
    private boolean freeSpaceTree;
    /** Whether commits keep the v1 space cache (space_cache=v1), and write it one group at a time. */
    private boolean spaceCacheV1;
    /** Set when the v1 caches were removed for the free-space tree: the superblock's cache generation goes to 0. */
    private boolean v1CacheRemoved;
    private final Map<Long, SpaceCacheLoader.Result> cachesAtMount;
    private final CommittedRoots committed;
    private Transaction running;
    /** The running transaction's log trees (fsyncs since the last commit), or null. */
    private TreeLog log;
    /** Log syncs sealed and waiting for their I/O. */
    private final LogSyncs logSyncs = new LogSyncs();
    private final AbortState aborted = new AbortState();
    private long commits;
    private CommitListener listener = (c) -> { };

    /** What one commit did; {@code caches} is null without the v1 space cache. */
    public record CommitStats(long transid, int rounds, SuperWriter.Writeout writeout,
                              DirtyBlockGroupWriteout.CacheWriteout caches, long nanos) {
    }

    /** Told of each commit (meters). */
    public interface CommitListener {
        void committed(CommitStats stats);
    }

    public TransactionManager(Volume volume, TreeBlockReader reader, SuperBlock sb) throws FsException {
        this(volume, reader, sb, CommitSettings.IMAGE_DEFAULTS);
    }

    /** @param settings what the commit takes from the mount options (as {@code WriteSupport} resolved them) */
    public TransactionManager(Volume volume, TreeBlockReader reader, SuperBlock sb, CommitSettings settings)
            throws FsException {
        this(volume, reader, sb, settings, Clock.systemUTC());
    }

    /** As above, with the clock a commit reads its times from. */
    public TransactionManager(Volume volume, TreeBlockReader reader, SuperBlock sb, CommitSettings settings,
                              Clock clock) throws FsException {
        this.clock = clock;
        this.volume = volume;
        this.reader = reader;
        this.csumType = ChecksumType.fromCode(sb.csumType());
        this.nodesize = sb.nodesize();
        this.sectorsize = sb.sectorsize();
        this.committed = new CommittedRoots(reader, sb);
        this.skinny = (sb.incompatFlags() & Features.INCOMPAT_SKINNY_METADATA) != 0;
        this.blockGroupTree = (sb.compatRoFlags() & Features.COMPAT_RO_BLOCK_GROUP_TREE) != 0;
        this.freeSpaceTree = (sb.compatRoFlags() & Features.COMPAT_RO_FREE_SPACE_TREE) != 0;
        this.csums = new CsumItems(sectorsize, csumType.size());
        this.writer = new SuperWriter(volume, csumType, nodesize);
        BTree extentTree = committedTree(ObjectIds.EXTENT_TREE);
        BTree bgTree = blockGroupTree ? committedTree(ObjectIds.BLOCK_GROUP_TREE) : extentTree;
        this.groups = BlockGroups.load(bgTree, extentTree, nodesize, volume.chunks());
        this.chunks = new ChunkMaker(volume, committedTree(ObjectIds.CHUNK_TREE), committedTree(ObjectIds.DEV_TREE),
                sb.devItem(), chunkTreeUuid());
        this.writer.setMemberDevItems(chunks::superDevItems);
        this.groups.setChunkAllocator(chunks);
        this.spaceCacheV1 = settings.spaceCacheV1() && !freeSpaceTree;
        this.cacheWriteout = new DirtyBlockGroupWriteout(volume, settings.serialWriteout());
        this.cachesAtMount = spaceCacheV1 ? SpaceCacheLoader.load(committedTree(ObjectIds.ROOT_TREE), volume, groups,
                sb.generation(), sb.cacheGeneration(), sectorsize, settings.clearCache()) : Map.of();
    }

    /**
     * Creates the free-space tree of an image that has none and removes its v1 space caches, and commits
     * (space_cache=v2 on a v1 image, ≈ btrfs_create_free_space_tree and cleanup_free_space_cache_v1).
     */
    public void createFreeSpaceTree() throws FsException {
        if (freeSpaceTree) return;
        Transaction tx = current();
        TreeRoot fst = tx.createTree(ObjectIds.FREE_SPACE_TREE);
        tx.editor().insert(tx.root(ObjectIds.ROOT_TREE), new Key(ObjectIds.FREE_SPACE_TREE, KeyType.ROOT_ITEM, 0),
                RootItem.encodeNewTree(fst.bytenr(), tx.transid(), nodesize));
        int caches = SpaceCacheWriter.removeAll(tx);
        // every group's items go into the new tree at this commit
        for (BlockGroup bg : groups.all()) bg.markForRewrite();
        freeSpaceTree = true;
        spaceCacheV1 = false;
        v1CacheRemoved = true;
        commit();
        LOG.info("created the free space tree ({} block groups); removed {} v1 space caches", groups.all().size(),
                caches);
    }

    /**
     * Rewrites the free-space tree's items of every block group from the free space the extent tree gives, and
     * commits (clear_cache on an image with the tree, ≈ btrfs_rebuild_free_space_tree, which makes a new tree;
     * here each group's items are deleted and written again): whatever the tree held, it holds the truth after.
     */
    public void rebuildFreeSpaceTree() throws FsException {
        if (!freeSpaceTree) return;
        Transaction tx = current();
        for (BlockGroup bg : groups.all()) bg.markForRewrite();
        tx.rebuildFreeSpaceTree();
        commit();
        LOG.info("rebuilt the free space tree ({} block groups)", groups.all().size());
    }

    /** Marks every cached block group's v1 space cache for rewriting at the next commit (none without v1). */
    public void markSpaceCachesStale() {
        if (!spaceCacheV1) return;
        for (BlockGroup bg : groups.all()) {
            if (bg.length() >= SpaceCachePages.MIN_GROUP) bg.markForRewrite();
        }
    }

    /** The v1 space caches as the mount found them, by block group (empty without the v1 cache). */
    public Map<Long, SpaceCacheLoader.Result> cachesAtMount() { return cachesAtMount; }

    public void setListener(CommitListener listener) { this.listener = listener; }

    /** Told once, when the filesystem aborts (the daemon records the reason for stats and umount). */
    public void setAbortListener(Consumer<TransactionAbortedException> listener) {
        aborted.setListener(listener);
    }

    public int nodesize() { return nodesize; }

    public int sectorsize() { return sectorsize; }

    public ChecksumType csumType() { return csumType; }

    public CsumItems csums() { return csums; }

    public BlockGroups blockGroups() { return groups; }

    /**
     * Sets incompat feature bits in the superblock from the next commit on (the kernel sets COMPRESS_LZO and
     * COMPRESS_ZSTD once it may write such extents).
     */
    public void requireIncompat(long bits) { addedIncompat.getAndAccumulate(bits, (a, b) -> a | b); }

    /** The generation of the last commit. */
    public long generation() { return committed.generation(); }

    /** The superblock of the last commit, as written (its generation and feature flags are the mount's now). */
    public SuperBlock committedSuperBlock() { return committed.decoded(); }

    public long commits() { return commits; }

    /** The running transaction, started when none runs; {@link Errno#EROFS} after an abort. */
    public Transaction current() throws FsException {
        refuseChangeIfAborted();
        if (running == null) {
            running = new Transaction(reader, groups, generation() + 1, nodesize, fsidOfBlocks(), chunkTreeUuid(),
                    committed::root, committed::lastSnapshot);
        }
        return running;
    }

    /** The running transaction, or null when nothing has changed since the last commit. */
    public Transaction running() { return running; }

    /** Why the filesystem went read-only, or null. */
    public String abortReason() {
        TransactionAbortedException a = aborted.get();
        return a == null ? null : a.reason();
    }

    /** The abort that turned the filesystem read-only, or null. */
    public TransactionAbortedException aborted() { return aborted.get(); }

    /** A change after an abort is refused as on a read-only mount (EROFS). */
    public void refuseChangeIfAborted() throws FsException { aborted.refuseChange(); }

    /** The tree {@code id} as of the last commit. */
    public BTree committedTree(long id) throws FsException { return committed.tree(id); }

    /** The running transaction's log trees, made on first use: an fsync copies an inode's changes into them. */
    public TreeLog treeLog() throws FsException {
        Transaction tx = current();
        if (log == null) log = new TreeLog(groups, nodesize, tx.transid(), fsidOfBlocks(), chunkTreeUuid(), csums);
        return log;
    }

    /** Metadata bytes the running transaction's log has taken (all of it stays taken until the commit). */
    public long logBytes() { return log == null ? 0 : log.bytes(); }

    /** Whether this transaction logged an fsync: space it frees must then stay pinned until the commit. */
    public boolean logging() { return log != null && !log.isEmpty(); }

    /**
     * Seals what the log holds now (≈ the first half of btrfs_sync_log), under the caller's write lock: the log
     * roots go into the log root tree and the changed blocks are checksummed and submitted; later changes copy
     * them. {@link #awaitLog} makes the sync durable without the lock. A failure here aborts.
     */
    public LogSync sealLog() throws FsException {
        aborted.refuseCommit();
        if (log == null || log.isEmpty()) return LogSync.DURABLE;
        long transid = log.transid();
        String stage = "while adding the log roots";
        try {
            Map<Long, ByteBuffer> blocks = log.prepareSync();
            stage = "while writing the log's tree blocks";
            SuperWriter.BlocksInFlight inFlight = writer.startLogBlockWrites(blocks, fsidOfBlocks(), transid);
            log.written();
            ByteBuffer sb = committed.copyOfSuperBlock();
            sb.putLong(SuperBlock.OFFSET_LOG_ROOT, log.rootBytenr());
            sb.put(SuperBlock.OFFSET_LOG_ROOT_LEVEL, (byte) log.rootLevel());
            return logSyncs.seal(inFlight, sb);
        } catch (IOException | RuntimeException e) {
            throw failed(transid, "the log sync failed " + stage, e);
        }
    }

    /**
     * Makes {@code sync} durable, with no lock of the caller held: the first waiter writes every sync sealed so
     * far (the file data, their blocks waited for, a flush, the primary superblock of the last commit naming the
     * newest log root, a flush) and the others find theirs done; a commit in between covers them. A failed write
     * fails these syncs and every later one: the caller then aborts ({@link #abortLogSync}), as the kernel does.
     */
    public void awaitLog(LogSync sync) throws FsException {
        if (sync.finished()) return;
        logSyncs.io.lock();
        try {
            if (sync.finished()) return;
            List<LogSync> batch = logSyncs.take();
            String stage = "while writing the file data";
            try {
                volume.drainWrites();
                stage = "while writing the log's tree blocks";
                for (LogSync s : batch) writer.waitBlockIo(s.blocks);
                aborted.refuseCommit();
                stage = "while writing the superblock";
                writer.writeLogSuperBlock(batch.get(batch.size() - 1).superBlock);
            } catch (TransactionAbortedException e) {
                logSyncs.fail(batch, e);
                throw e;
            } catch (IOException | RuntimeException e) {
                FsException f = new FsException(Errno.EIO, "the log sync failed " + stage, e);
                logSyncs.fail(batch, f);
                throw f;
            }
            for (LogSync s : batch) s.done();
        } finally {
            logSyncs.io.unlock();
        }
    }

    /** A log sync failed ({@link #awaitLog}); the caller holds the write lock. Returns the abort. */
    public TransactionAbortedException abortLogSync(FsException e) {
        if (e instanceof TransactionAbortedException a) return a;
        return failed(running != null ? running.transid() : generation() + 1, e.getMessage(),
                e.getCause() instanceof Exception c ? c : e);
    }

    /** Held by a commit throughout and while a log sync writes: taken before the write lock, readers go on. */
    public Lock logSyncLock() { return logSyncs.io; }

    /** Commits the running transaction under the caller's write lock throughout; null when there was nothing. */
    public CommitStats commit() throws FsException {
        return commit(CommitLocks.HELD);
    }

    /**
     * Commits the running transaction ({@link Commit#run} has the stages), the caller's write lock held and
     * downgraded to the read lock for the writeout as {@code locks} says. Returns null when there was nothing to
     * commit; throws the abort when it failed.
     */
    public CommitStats commit(CommitLocks locks) throws FsException {
        logSyncs.io.lock();
        try {
            // the log syncs sealed so far are durable with this commit; none writes a superblock during it
            List<LogSync> covered = logSyncs.beforeCommit();
            try {
                CommitStats stats = commitHoldingLogSyncs(locks);
                covered.forEach(LogSync::done);
                return stats;
            } catch (FsException e) {
                covered.forEach(s -> s.fail(e));
                throw e;
            }
        } finally {
            logSyncs.io.unlock();
        }
    }

    private CommitStats commitHoldingLogSyncs(CommitLocks locks) throws FsException {
        aborted.refuseCommit();
        FsException logFailed = logSyncs.broken();
        if (logFailed != null) throw abortLogSync(logFailed);
        Transaction tx = running;
        if (tx == null || tx.isEmpty()) {
            running = null;
            return null;
        }
        if (log != null) {
            // the commit makes the log needless: its blocks are free once the commit is on disk (≈ btrfs_free_log)
            log.drop();
            log = null;
        }
        SpaceCacheWriter spaceCache = spaceCacheV1 ? new SpaceCacheWriter(tx, sectorsize, clock) : null;
        DerivedTrees trees = new DerivedTrees(tx, csums, nodesize, sectorsize, skinny, blockGroupTree, freeSpaceTree,
                chunks, spaceCache, clock);
        return new Commit(this, tx, volume, trees, spaceCache, cacheWriteout, writer).run(locks);
    }

    /** The commit's superblock is on the device: it and the tree blocks it points at become the committed ones. */
    void switchRoots(Transaction tx, ByteBuffer written) { committed.switchTo(tx, written); }

    /** The committed transaction is over: the next change starts another. */
    void ended() {
        running = null;
        log = null;
        commits++;
    }

    void tellListener(CommitStats stats) { listener.committed(stats); }

    /**
     * Aborts the running transaction because of {@code e}; {@code what} says what failed ("unlink failed halfway"):
     * the transaction is dropped, the image keeps its last commit, the filesystem turns read-only. Returns the abort.
     */
    public TransactionAbortedException abort(String what, Exception e) {
        return failed(running != null ? running.transid() : generation() + 1, what, e);
    }

    TransactionAbortedException failed(long transid, String what, Exception e) {
        running = null;
        log = null;
        TransactionAbortedException a = aborted.abort(transid, generation(), what, e);
        logSyncs.fail(List.of(), a);
        return a;
    }

    /** The superblock of {@code tx}'s commit: its roots, sizes, features and a new backup root. */
    ByteBuffer nextSuperBlock(Transaction tx) throws FsException {
        ByteBuffer sb = committed.copyOfSuperBlock();
        long oldGen = generation();
        TreeRoot root = tx.root(ObjectIds.ROOT_TREE);
        sb.putLong(SuperBlock.OFFSET_GENERATION, tx.transid());
        sb.putLong(SuperBlock.OFFSET_ROOT, root.bytenr());
        sb.put(SuperBlock.OFFSET_ROOT_LEVEL, (byte) root.level());
        TreeRoot chunk = tx.roots().get(ObjectIds.CHUNK_TREE);
        if (chunk != null && chunk.bytenr() != sb.getLong(SuperBlock.OFFSET_CHUNK_ROOT)) {
            sb.putLong(SuperBlock.OFFSET_CHUNK_ROOT, chunk.bytenr());
            sb.put(SuperBlock.OFFSET_CHUNK_ROOT_LEVEL, (byte) chunk.level());
            sb.putLong(SuperBlock.OFFSET_CHUNK_ROOT_GENERATION, chunk.generation());
        }
        sb.putLong(SuperBlock.OFFSET_BYTES_USED, groups.usedAfterCommit());
        // a commit makes every fsync before it durable: a log written before it is obsolete (and freed)
        sb.putLong(SuperBlock.OFFSET_LOG_ROOT, 0);
        sb.put(SuperBlock.OFFSET_LOG_ROOT_LEVEL, (byte) 0);
        // the caches written by this commit are current; the others were left exact (their groups did not change)
        if (spaceCacheV1) sb.putLong(SuperBlock.OFFSET_CACHE_GENERATION, tx.transid());
        if (v1CacheRemoved) sb.putLong(SuperBlock.OFFSET_CACHE_GENERATION, 0);
        if (freeSpaceTree) {
            sb.putLong(SuperBlock.OFFSET_COMPAT_RO_FLAGS, sb.getLong(SuperBlock.OFFSET_COMPAT_RO_FLAGS)
                    | Features.COMPAT_RO_FREE_SPACE_TREE | Features.COMPAT_RO_FREE_SPACE_TREE_VALID);
        }
        sb.putLong(SuperBlock.OFFSET_INCOMPAT_FLAGS, sb.getLong(SuperBlock.OFFSET_INCOMPAT_FLAGS)
                | addedIncompat.get());
        sb.putLong(SuperBlock.OFFSET_DEV_ITEM + DevItem.OFFSET_BYTES_USED, chunks.devBytesUsed());
        chunks.addSystemChunks(sb);
        if (sb.getLong(SuperBlock.OFFSET_UUID_TREE_GENERATION) == oldGen) {
            sb.putLong(SuperBlock.OFFSET_UUID_TREE_GENERATION, tx.transid());
        }
        writeBackupRoot(sb, tx);
        return sb;
    }

    /** Fills the next slot of the backup-roots ring with this commit's roots (≈ backup_super_roots). */
    private void writeBackupRoot(ByteBuffer sb, Transaction tx) throws FsException {
        RootBackup.Root root = new RootBackup.Root(sb.getLong(SuperBlock.OFFSET_ROOT), tx.transid(),
                Byte.toUnsignedInt(sb.get(SuperBlock.OFFSET_ROOT_LEVEL)));
        RootBackup.Root chunk = new RootBackup.Root(sb.getLong(SuperBlock.OFFSET_CHUNK_ROOT),
                sb.getLong(SuperBlock.OFFSET_CHUNK_ROOT_GENERATION),
                Byte.toUnsignedInt(sb.get(SuperBlock.OFFSET_CHUNK_ROOT_LEVEL)));
        RootBackup backup = new RootBackup(root, chunk, backupRoot(tx, ObjectIds.EXTENT_TREE),
                backupRoot(tx, ObjectIds.FS_TREE), backupRoot(tx, ObjectIds.DEV_TREE),
                backupRoot(tx, ObjectIds.CSUM_TREE), sb.getLong(SuperBlock.OFFSET_TOTAL_BYTES),
                sb.getLong(SuperBlock.OFFSET_BYTES_USED), sb.getLong(SuperBlock.OFFSET_NUM_DEVICES));
        backup.write(sb, RootBackup.offsetInSuper(RootBackup.nextSlot(sb)));
    }

    /** Tree {@code id}'s root after this commit: the transaction's when it changed the tree, else the committed. */
    private RootBackup.Root backupRoot(Transaction tx, long id) throws FsException {
        TreeRoot r = tx.roots().containsKey(id) ? tx.roots().get(id) : committed.root(id);
        return new RootBackup.Root(r.bytenr(), r.generation(), r.level());
    }

    byte[] fsidOfBlocks() { return committed.fsidOfBlocks(); }

    private byte[] chunkTreeUuid() throws FsException { return committed.chunkTreeUuid(); }
}
