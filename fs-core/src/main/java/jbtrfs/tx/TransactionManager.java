package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.DevItem;
import jbtrfs.format.Features;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.SuperBlock;
import jbtrfs.fs.MountOptions;
import jbtrfs.spacecache.SpaceCacheLoader;
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
    private static final int MAX_CACHE_PASSES = 8;

    private final Volume volume;
    private final TreeBlockReader reader;
    private final ChecksumType csumType;
    private final int nodesize;
    private final int sectorsize;
    private final BlockGroups groups;
    private final ChunkMaker chunks;
    private final CsumItems csums;
    private final SuperWriter writer;
    private final boolean skinny;
    /** Incompat bits the next superblock gains (set from FUSE threads, read by the commit). */
    private final java.util.concurrent.atomic.AtomicLong addedIncompat = new java.util.concurrent.atomic.AtomicLong();
    private final boolean blockGroupTree;
    private boolean freeSpaceTree;
    /** Whether commits keep the v1 space cache (space_cache=v1), and write it one group at a time. */
    private boolean spaceCacheV1;
    /** Set when the v1 caches were removed for the free-space tree: the superblock's cache generation goes to 0. */
    private boolean v1CacheRemoved;
    private final boolean serialWriteout;
    private final Map<Long, SpaceCacheLoader.Result> cachesAtMount;
    private ByteBuffer superBlock;
    private Transaction running;
    private final AbortState aborted = new AbortState();
    private long commits;
    private CommitListener listener = (c) -> { };

    /** What one commit did; {@code caches} is null without the v1 space cache. */
    public record CommitStats(long transid, int rounds, SuperWriter.Writeout writeout,
                              SuperWriter.CacheWriteout caches, long nanos) {
    }

    /** Told of each commit (meters). */
    public interface CommitListener {
        void committed(CommitStats stats);
    }

    public TransactionManager(Volume volume, TreeBlockReader reader, SuperBlock sb) throws FsException {
        this(volume, reader, sb, (sb.compatRoFlags() & Features.COMPAT_RO_FREE_SPACE_TREE) != 0
                ? MountOptions.SpaceCache.V2 : MountOptions.SpaceCache.V1, false, false);
    }

    /**
     * @param spaceCache     how free space is kept (as {@code WriteSupport} resolved the mount options)
     * @param clearCache     distrust every v1 cache at mount
     * @param serialWriteout write v1 caches one block group at a time
     */
    public TransactionManager(Volume volume, TreeBlockReader reader, SuperBlock sb, MountOptions.SpaceCache spaceCache,
                              boolean clearCache, boolean serialWriteout) throws FsException {
        this.volume = volume;
        this.reader = reader;
        this.csumType = ChecksumType.fromCode(sb.csumType());
        this.nodesize = sb.nodesize();
        this.sectorsize = sb.sectorsize();
        this.superBlock = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        this.superBlock.put(0, sb.raw().duplicate().clear(), 0, SuperBlock.SIZE);
        this.skinny = (sb.incompatFlags() & Features.INCOMPAT_SKINNY_METADATA) != 0;
        this.blockGroupTree = (sb.compatRoFlags() & Features.COMPAT_RO_BLOCK_GROUP_TREE) != 0;
        this.freeSpaceTree = (sb.compatRoFlags() & Features.COMPAT_RO_FREE_SPACE_TREE) != 0;
        this.csums = new CsumItems(sectorsize, csumType.size());
        this.writer = new SuperWriter(volume, csumType, nodesize);
        BTree extentTree = committedTree(ObjectIds.EXTENT_TREE);
        BTree bgTree = blockGroupTree ? committedTree(ObjectIds.BLOCK_GROUP_TREE) : extentTree;
        this.groups = BlockGroups.load(bgTree, extentTree, nodesize, volume.chunks());
        this.chunks = new ChunkMaker(volume, committedTree(ObjectIds.DEV_TREE), sb.devItem(), chunkTreeUuid());
        this.groups.setChunkAllocator(chunks);
        this.spaceCacheV1 = spaceCache == MountOptions.SpaceCache.V1 && !freeSpaceTree;
        this.serialWriteout = serialWriteout;
        this.cachesAtMount = spaceCacheV1 ? SpaceCacheLoader.load(committedTree(ObjectIds.ROOT_TREE), volume, groups,
                sb.generation(), sb.cacheGeneration(), sectorsize, clearCache) : Map.of();
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
        for (jbtrfs.alloc.BlockGroup bg : groups.all()) bg.markForRewrite();
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
        for (jbtrfs.alloc.BlockGroup bg : groups.all()) bg.markForRewrite();
        tx.rebuildFreeSpaceTree();
        commit();
        LOG.info("rebuilt the free space tree ({} block groups)", groups.all().size());
    }

    /** Marks every cached block group's v1 space cache for rewriting at the next commit (none without v1). */
    public void markSpaceCachesStale() {
        if (!spaceCacheV1) return;
        for (jbtrfs.alloc.BlockGroup bg : groups.all()) {
            if (bg.length() >= jbtrfs.spacecache.SpaceCachePages.MIN_GROUP) bg.markForRewrite();
        }
    }

    /** The v1 space caches as the mount found them, by block group (empty without the v1 cache). */
    public Map<Long, SpaceCacheLoader.Result> cachesAtMount() { return cachesAtMount; }

    public void setListener(CommitListener listener) { this.listener = listener; }

    /** Told once, when the filesystem aborts (the daemon records the reason for stats and umount). */
    public void setAbortListener(java.util.function.Consumer<TransactionAbortedException> listener) {
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
    public long generation() { return superBlock.getLong(SuperBlock.OFFSET_GENERATION); }

    public long commits() { return commits; }

    /** The running transaction, started when none runs; {@link Errno#EROFS} after an abort. */
    public Transaction current() throws FsException {
        refuseChangeIfAborted();
        if (running == null) {
            running = new Transaction(reader, groups, generation() + 1, nodesize, fsidOfBlocks(), chunkTreeUuid(),
                    this::committedRoot, this::lastSnapshot);
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
    public BTree committedTree(long id) throws FsException {
        TreeRoot r = committedRoot(id);
        return new BTree(reader, id, r.bytenr(), r.level(), r.generation());
    }

    /** The committed root item's last_snapshot of tree {@code id} (0 when it has none or cannot be read). */
    private long lastSnapshot(long id) {
        try {
            RootItem item = committedRootItem(id);
            return item == null ? 0 : item.lastSnapshot();
        } catch (FsException e) {
            // unreadable root item: assume shared, the safe side
            return Long.MAX_VALUE;
        }
    }

    private RootItem committedRootItem(long id) throws FsException {
        Cursor c = committedTree(ObjectIds.ROOT_TREE).seekFloor(Key.last(id, KeyType.ROOT_ITEM));
        if (!c.valid() || c.key().objectid() != id || c.key().type() != KeyType.ROOT_ITEM) return null;
        try {
            return RootItem.read(c.buffer(), c.dataOffset(), c.dataSize());
        } catch (IllegalArgumentException e) {
            throw new CorruptBlockException(ObjectIds.ROOT_TREE, c.leaf().bytenr(), c.slot(), e.getMessage());
        }
    }

    private TreeRoot committedRoot(long id) throws FsException {
        if (id == ObjectIds.ROOT_TREE) {
            return new TreeRoot(id, superBlock.getLong(SuperBlock.OFFSET_ROOT),
                    Byte.toUnsignedInt(superBlock.get(SuperBlock.OFFSET_ROOT_LEVEL)), generation());
        }
        if (id == ObjectIds.CHUNK_TREE) {
            return new TreeRoot(id, superBlock.getLong(SuperBlock.OFFSET_CHUNK_ROOT),
                    Byte.toUnsignedInt(superBlock.get(SuperBlock.OFFSET_CHUNK_ROOT_LEVEL)),
                    superBlock.getLong(SuperBlock.OFFSET_CHUNK_ROOT_GENERATION));
        }
        RootItem item = committedRootItem(id);
        if (item == null) throw new FsException(Errno.ENOENT, "no tree " + id + " in the root tree");
        return new TreeRoot(id, item.bytenr(), item.level(), item.generation());
    }

    /**
     * Commits the running transaction: settles the derived trees, writes the tree blocks (stage one submits all,
     * stage two reaps), flushes, writes the superblocks. Returns null when there was nothing to commit.
     */
    public CommitStats commit() throws FsException {
        Prepared p = prepareCommit();
        if (p == null) return null;
        write(p);
        return finish(p);
    }

    /** A settled transaction and its next superblock, between the commit's stages. */
    public static final class Prepared {
        final Transaction tx;
        final ByteBuffer superBlock;
        final int rounds;
        final long startNanos;
        SuperWriter.Writeout writeout;
        SuperWriter.CacheWriteout caches;

        Prepared(Transaction tx, ByteBuffer superBlock, int rounds, long startNanos) {
            this.tx = tx;
            this.superBlock = superBlock;
            this.rounds = rounds;
            this.startNanos = startNanos;
        }
    }

    /**
     * The commit's first part, which changes memory (callers hold the write lock): settles the derived trees and
     * builds the superblock. Null when there is nothing to commit.
     */
    public Prepared prepareCommit() throws FsException {
        aborted.refuseCommit();
        Transaction tx = running;
        if (tx == null || tx.isEmpty()) {
            running = null;
            return null;
        }
        long t0 = System.nanoTime();
        String stage = "while settling the trees";
        try {
            SpaceCacheWriter spaceCache = spaceCacheV1 ? new SpaceCacheWriter(tx, sectorsize) : null;
            Commit commit = new Commit(tx, csums, nodesize, sectorsize, skinny, blockGroupTree, freeSpaceTree, chunks,
                    spaceCache);
            int rounds = commit.settle();
            SuperWriter.CacheWriteout caches = null;
            if (spaceCache != null) {
                volume.drainWrites(); // file data first: a cache extent may take space a write just left
                // the pages go out before the tree blocks that point at them; a failed file is marked invalid by
                // another settle, and any file that settle changed goes again
                for (int pass = 0; ; pass++) {
                    List<SpaceCacheWriter.PendingWrite> todo = spaceCache.unwritten();
                    if (todo.isEmpty()) break;
                    if (pass == MAX_CACHE_PASSES) {
                        throw new IllegalStateException("space caches still changing after " + pass + " writeouts");
                    }
                    stage = "while writing the space caches";
                    SuperWriter.CacheWriteout out = writer.writeCaches(todo, serialWriteout);
                    caches = caches == null ? out : caches.plus(out);
                    spaceCache.written(todo, out.failed());
                    stage = "while settling the trees";
                    rounds += commit.settle();
                }
                if (caches == null) caches = SuperWriter.CacheWriteout.NONE;
            }
            stage = "while building the superblock";
            Prepared p = new Prepared(tx, nextSuperBlock(tx), rounds, t0);
            p.caches = caches;
            return p;
        } catch (IOException | RuntimeException e) {
            throw failed(tx.transid(), "the commit failed " + stage, e);
        }
    }

    /**
     * The commit's I/O, which only reads memory (readers may run beside it; no change may): the tree blocks in
     * two stages, flush, superblocks, flush.
     */
    public void write(Prepared p) throws FsException {
        String stage = "while writing the file data";
        try {
            volume.drainWrites(); // the file data the new trees point at is on the device before they are
            stage = "while writing the tree blocks";
            p.writeout = writer.writeBlocks(p.tx, fsidOfBlocks());
            stage = "while writing the superblocks";
            writer.writeSuperBlocks(p.superBlock);
        } catch (IOException | RuntimeException e) {
            throw failed(p.tx.transid(), "the commit failed " + stage, e);
        }
    }

    /** The commit's last part (write lock again): the written state becomes the committed one. */
    public CommitStats finish(Prepared p) {
        superBlock = p.superBlock;
        for (Map.Entry<Long, ByteBuffer> e : p.tx.dirtyBlocks().entrySet()) {
            reader.cache(new TreeBlock(e.getKey(), e.getValue().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN)));
        }
        groups.committed();
        running = null;
        commits++;
        CommitStats stats = new CommitStats(p.tx.transid(), p.rounds, p.writeout, p.caches,
                System.nanoTime() - p.startNanos);
        LOG.debug("committed transaction {}: {} tree blocks in {} rounds", p.tx.transid(),
                p.writeout.treeBlocks(), p.rounds);
        listener.committed(stats);
        return stats;
    }

    /**
     * Aborts the running transaction because of {@code e}; {@code what} says what failed ("unlink failed halfway"):
     * the transaction is dropped, the image keeps its last commit, the filesystem turns read-only. Returns the abort.
     */
    public TransactionAbortedException abort(String what, Exception e) {
        return failed(running != null ? running.transid() : generation() + 1, what, e);
    }

    private TransactionAbortedException failed(long transid, String what, Exception e) {
        running = null;
        return aborted.abort(transid, generation(), what, e);
    }

    private ByteBuffer nextSuperBlock(Transaction tx) throws FsException {
        ByteBuffer sb = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        sb.put(0, superBlock, 0, SuperBlock.SIZE);
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
        if (sb.getLong(SuperBlock.OFFSET_UUID_TREE_GENERATION) == oldGen) {
            sb.putLong(SuperBlock.OFFSET_UUID_TREE_GENERATION, tx.transid());
        }
        writeBackupRoot(sb, tx);
        return sb;
    }

    /** Fills the next slot of the backup-roots ring with this commit's roots (≈ backup_super_roots). */
    private void writeBackupRoot(ByteBuffer sb, Transaction tx) throws FsException {
        int newest = 0;
        long newestGen = -1;
        for (int i = 0; i < SuperWriter.BACKUP_ROOTS; i++) {
            long gen = sb.getLong(SuperWriter.OFFSET_BACKUP_ROOTS + i * SuperWriter.BACKUP_ROOT_SIZE + 8);
            if (gen > newestGen) {
                newestGen = gen;
                newest = i;
            }
        }
        int slot = newestGen < 0 ? 0 : (newest + 1) % SuperWriter.BACKUP_ROOTS;
        int at = SuperWriter.OFFSET_BACKUP_ROOTS + slot * SuperWriter.BACKUP_ROOT_SIZE;
        for (int i = 0; i < SuperWriter.BACKUP_ROOT_SIZE; i++) sb.put(at + i, (byte) 0);
        long[][] trees = {{ObjectIds.ROOT_TREE, 0, 152}, {ObjectIds.CHUNK_TREE, 16, 153},
                {ObjectIds.EXTENT_TREE, 32, 154}, {ObjectIds.FS_TREE, 48, 155}, {ObjectIds.DEV_TREE, 64, 156},
                {ObjectIds.CSUM_TREE, 80, 157}};
        for (long[] t : trees) {
            TreeRoot r;
            if (t[0] == ObjectIds.ROOT_TREE) {
                r = new TreeRoot(t[0], sb.getLong(SuperBlock.OFFSET_ROOT),
                        Byte.toUnsignedInt(sb.get(SuperBlock.OFFSET_ROOT_LEVEL)), tx.transid());
            } else if (t[0] == ObjectIds.CHUNK_TREE) {
                r = new TreeRoot(t[0], sb.getLong(SuperBlock.OFFSET_CHUNK_ROOT),
                        Byte.toUnsignedInt(sb.get(SuperBlock.OFFSET_CHUNK_ROOT_LEVEL)),
                        sb.getLong(SuperBlock.OFFSET_CHUNK_ROOT_GENERATION));
            } else {
                r = tx.roots().containsKey(t[0]) ? tx.roots().get(t[0]) : committedRoot(t[0]);
            }
            sb.putLong(at + (int) t[1], r.bytenr());
            sb.putLong(at + (int) t[1] + 8, r.generation());
            sb.put(at + (int) t[2], (byte) r.level());
        }
        sb.putLong(at + 96, sb.getLong(SuperBlock.OFFSET_TOTAL_BYTES));
        sb.putLong(at + 104, sb.getLong(SuperBlock.OFFSET_BYTES_USED));
        sb.putLong(at + 112, sb.getLong(SuperBlock.OFFSET_NUM_DEVICES));
    }

    private byte[] fsidOfBlocks() {
        return SuperBlock.decode(superBlock).treeBlockFsid();
    }

    private byte[] chunkTreeUuid() throws FsException {
        // every tree block carries the chunk tree's uuid: copy it from the chunk root's header
        TreeBlock b = reader.read(superBlock.getLong(SuperBlock.OFFSET_CHUNK_ROOT), 0, -1, ObjectIds.CHUNK_TREE);
        byte[] u = new byte[16];
        b.buffer().get(jbtrfs.format.Header.OFFSET_CHUNK_TREE_UUID, u);
        return u;
    }
}
