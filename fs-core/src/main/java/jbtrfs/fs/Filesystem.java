package jbtrfs.fs;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.MeterRegistry;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ReadStats;
import jbtrfs.TransactionAbortedException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.device.Backend;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.DeviceOptions;
import jbtrfs.device.OverlayBlockDevice;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Features;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.format.Uuids;
import jbtrfs.spacecache.SpaceCacheLoader.Result;
import jbtrfs.tx.CommitSettings;
import jbtrfs.tx.DirtyBlockGroupWriteout;
import jbtrfs.tx.SuperWriter;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;
import jbtrfs.volumes.ChunkMap;
import jbtrfs.volumes.Volume;

/**
 * An opened Btrfs image: the entry point of fs-core.
 *
 * <p>{@link #open} reads the superblock, bootstraps the chunk tree from the sys_chunk_array, reads the chunk tree
 * and the root tree, and checks the feature flags; an image it cannot serve is refused with an
 * {@link Errno#EINVAL} whose message is one line naming the problem. {@link #operations()} is what
 * the FUSE adapter calls. The package overview ({@code package-info.java}) traces a write and a commit.
 */
public final class Filesystem implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(Filesystem.class);
    private static final long TREE_BLOCK_CACHE_BYTES = 128L << 20;

    private final BlockDevice device;
    private final Members members;
    private final SuperBlock superBlock;
    private final ReadStats stats;
    private final Subvolumes subvolumes;
    private final SpaceReport space;
    private final FsOperations operations;
    private final WritableOperations writable;
    private final TransactionManager transactions;
    private final LogReplay.Report logReplay;
    private final Scrubber scrubber;

    private Filesystem(BlockDevice device, Members members, SuperBlock sb, ReadStats stats, Subvolumes subvolumes, SpaceReport space,
                       FsOperations operations, WritableOperations writable, TransactionManager transactions,
                       LogReplay.Report logReplay, Scrubber scrubber) {
        this.logReplay = logReplay;
        this.scrubber = scrubber;
        this.writable = writable;
        this.transactions = transactions;
        this.device = device;
        this.members = members;
        this.superBlock = sb;
        this.stats = stats;
        this.subvolumes = subvolumes;
        this.space = space;
        this.operations = operations;
    }

    /** Opens the image at {@code image}. */
    public static Filesystem open(Path image, MountOptions options) throws IOException {
        return open(image, options, null);
    }

    /**
     * Opens the image at {@code image}, and the other devices {@code options} names (device=); the devices' meters go
     * to {@code registry} (none when null).
     */
    public static Filesystem open(Path image, MountOptions options, MeterRegistry registry) throws IOException {
        return open(image, options, registry, Clock.systemUTC());
    }

    /** As {@link #open(Path, MountOptions, MeterRegistry)}, stamping inode times from {@code clock}. */
    public static Filesystem open(Path image, MountOptions options, MeterRegistry registry, Clock clock)
            throws IOException {
        DeviceOptions deviceOptions = DeviceOptions.defaults().withWritable(!options.readOnly()).withQueueDepth(64)
                .withBackend(options.deviceBackend() == null ? Backend.NIO : options.deviceBackend());
        if (registry != null) deviceOptions = deviceOptions.withRegistry(registry);
        BlockDevice device = Members.openLocked(image, deviceOptions, "image");
        try {
            List<Members.Given> others = Members.open(options.devices(), deviceOptions);
            try {
                return open(device, image.toString(), others, options, clock);
            } catch (IOException | RuntimeException e) {
                Members.closeAll(others);
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** Opens the filesystem on {@code device}; the device is closed with the filesystem. */
    public static Filesystem open(BlockDevice device, MountOptions options) throws IOException {
        return open(device, options, Clock.systemUTC());
    }

    /**
     * Opens the filesystem on {@code device}, stamping inode times from {@code clock} (tests fix it); the device is
     * closed with the filesystem.
     */
    public static Filesystem open(BlockDevice device, MountOptions options, Clock clock) throws IOException {
        return open(device, "the image", List.of(), options, clock);
    }

    /**
     * Opens the set of {@code devices} (in-memory members in tests); the first is the one opened from, and every one
     * is closed with the filesystem.
     */
    static Filesystem openMembers(List<? extends BlockDevice> devices, MountOptions options) throws IOException {
        List<Members.Given> others = new ArrayList<>();
        for (int i = 1; i < devices.size(); i++) {
            String name = "member " + (i + 1);
            others.add(new Members.Given(name, devices.get(i), SuperBlocks.readMember(devices.get(i), name)));
        }
        return open(devices.get(0), "member 1", others, options, Clock.systemUTC());
    }

    /**
     * Opens the filesystem on {@code device} (named {@code name} in messages) and the other members {@code others}
     * of a multi-device one; every device is closed with the filesystem.
     */
    private static Filesystem open(BlockDevice device, String name, List<Members.Given> others, MountOptions options,
                                   Clock clock) throws IOException {
        SuperBlock sb = SuperBlocks.readBest(device);
        SuperBlocks.checkSupported(sb, device.size());
        boolean multi = sb.numDevices() > 1 || !others.isEmpty();
        Members members = Members.match(sb, new Members.Given(name, device, sb), others, options.readOnly());
        ChecksumType csumType = ChecksumType.fromCode(sb.csumType());
        ReadStats stats = new ReadStats();
        ChunkMap bootstrap;
        try {
            bootstrap = ChunkMap.fromSysChunkArray(sb.sysChunkArray(), sb.sectorsize());
        } catch (IllegalArgumentException e) {
            throw new FsException(Errno.EINVAL, "corrupt sys_chunk_array in the superblock: " + e.getMessage());
        }
        if (multi) members.checkBootstrap(bootstrap, options.degraded());
        Volume volume = new Volume(sb.devItem().devid(), members.devices(), bootstrap);
        TreeBlockReader reader = new TreeBlockReader(volume, csumType, sb.nodesize(), sb.treeBlockFsid(),
                TREE_BLOCK_CACHE_BYTES, stats);
        volume.setChunks(readChunkTree(sb, reader, bootstrap));
        if (multi) members.checkDevItems(sb, reader, volume.chunks(), options.degraded());
        for (Map.Entry<Long, BlockDevice> m : volume.members().entrySet()) {
            String pastEnd = volume.chunks().stripePastEnd(m.getKey(), m.getValue().size());
            if (pastEnd != null) {
                // read-write refuses it (WriteSupport); read-only serves what lies inside and EIOs the rest
                LOG.warn("{}{}; reads there fail with EIO", pastEnd, multi ? " (devid " + m.getKey() + ")" : "");
            }
        }

        BTree rootTree = new BTree(reader, ObjectIds.ROOT_TREE, sb.root(), sb.rootLevel(), sb.generation());
        try {
            rootTree.seek(Key.first(0, 0));
        } catch (FsException e) {
            throw new FsException(Errno.EINVAL, "cannot read the root tree: " + e.getMessage());
        }
        if (sb.logRoot() != 0 && multi && options.readOnly()) {
            // a read-write open replays it below; a read-only one would have to replay it in memory on every member
            LOG.warn("the log tree is not replayed on a read-only mount of a multi-device filesystem yet; it shows "
                    + "the last committed state (a read-write mount replays it)");
        } else if (sb.logRoot() != 0 && LogTreeCheck.replayable(sb, reader, options) && options.readOnly()) {
            Filesystem replayed = replayInMemory(device, options, clock);
            if (replayed != null) return replayed;
        }
        Subvolumes subvolumes = new Subvolumes(rootTree, reader);
        subvolumes.setChunkTree(() -> new BTree(reader, ObjectIds.CHUNK_TREE, sb.chunkRoot(), sb.chunkRootLevel(),
                sb.chunkRootGeneration()));
        CsumTree.Source csumTree = () -> optionalTree(subvolumes, ObjectIds.CSUM_TREE);
        boolean bgTree = (sb.compatRoFlags() & Features.COMPAT_RO_BLOCK_GROUP_TREE) != 0;
        BTree blockGroups;
        try {
            blockGroups = subvolumes.tree(bgTree ? ObjectIds.BLOCK_GROUP_TREE : ObjectIds.EXTENT_TREE);
        } catch (FsException e) {
            throw new FsException(Errno.EINVAL, "cannot read the " + (bgTree ? "block group" : "extent") + " tree: "
                    + e.getMessage());
        }
        SpaceReport space = new SpaceReport(sb, volume, blockGroups, subvolumes);
        space.setMembers(members.list());
        Inodes inodes = new Inodes(subvolumes, sb.sectorsize(), clock);
        CsumTree csums = new CsumTree(csumTree, sb.sectorsize(), csumType.size());
        DataReader data = new DataReader(volume, csums, csumType, sb.sectorsize(), stats);
        Directories directories = new Directories(subvolumes);
        InodeId root = MountRoot.resolve(options, subvolumes, directories);
        FileData fileData = new FileData(subvolumes, inodes, data);
        ReadOnlyOperations ops = new ReadOnlyOperations(root, inodes, directories, fileData, new Xattrs(subvolumes),
                space, new SeekData(subvolumes, inodes, sb.sectorsize()), new TreeSearch(subvolumes), sb);
        try {
            ops.stat(ops.root());
        } catch (FsException e) {
            throw new FsException(Errno.EINVAL, "cannot read the root directory: " + e.getMessage());
        }
        FsOperations served = ops;
        WritableOperations writable = null;
        TransactionManager txm = null;
        LogReplay.Report replayed = null;
        if (!options.readOnly()) {
            MountOptions.SpaceCache spaceCache = WriteSupport.check(sb, subvolumes, volume, options);
            // the image will be written: the bad copies the open met go back good now, before anything is freed
            volume.allowRepairs(() -> true);
            reader.repairPending();
            txm = new TransactionManager(volume, reader, sb, new CommitSettings(
                    spaceCache == MountOptions.SpaceCache.V1, options.clearCache(), options.serialWriteout()), clock);
            if (sb.logRoot() != 0) {
                // before anything allocates: the log's blocks and extents are not in the extent tree
                replayed = LogReplay.replay(sb, reader, txm, subvolumes,
                        (sb.incompatFlags() & Features.INCOMPAT_NO_HOLES) != 0, clock);
            }
            if (spaceCache == MountOptions.SpaceCache.V2
                    && (sb.compatRoFlags() & Features.COMPAT_RO_FREE_SPACE_TREE) == 0) {
                LOG.info("creating the free space tree (space_cache=v2 on an image without one)");
                txm.createFreeSpaceTree();
                subvolumes.committed(txm.committedTree(ObjectIds.ROOT_TREE));
            } else if (spaceCache == MountOptions.SpaceCache.V2 && options.clearCache()) {
                LOG.info("rebuilding the free space tree (clear_cache)");
                txm.rebuildFreeSpaceTree();
                subvolumes.committed(txm.committedTree(ObjectIds.ROOT_TREE));
            }
            TransactionManager live = txm;
            subvolumes.setChunkTree(() -> live.committedTree(ObjectIds.CHUNK_TREE));
            space.setItemSource(chunk -> {
                BlockGroup bg = live.blockGroups().find(chunk.logical());
                return bg == null ? null : new BlockGroupItem(bg.usedNow(), 256, bg.flags());
            });
            writable = new WritableOperations(ops, txm, subvolumes, fileData, volume,
                    (sb.incompatFlags() & Features.INCOMPAT_NO_HOLES) != 0,
                    (sb.incompatFlags() & Features.INCOMPAT_EXTENDED_IREF) != 0, options.commitSeconds(),
                    options.compression(), clock, options.evictingTransport(), options.noTreeLog());
            try {
                writable.cleanupOrphans();
            } catch (FsException e) {
                closeQuietly(writable);
                throw e;
            }
            served = writable;
        }
        Scrubber scrubber = Scrubber.forMount(sb, csumType, volume, reader, subvolumes, writable, txm, members);
        ops.attachScrubber(scrubber);
        LOG.info("opened {} (label '{}', generation {}, nodesize {}, sectorsize {}, {})",
                Uuids.format(sb.fsid()), sb.label(), sb.generation(), sb.nodesize(), sb.sectorsize(),
                csumType.displayName());
        return new Filesystem(device, members, sb, stats, subvolumes, space, served, writable, txm, replayed,
                scrubber);
    }

    /** The mount's scrub (start, progress, cancel). */
    public Scrubber scrubber() {
        return scrubber;
    }

    /**
     * A read-only mount of an image with a log: the write stack opens over an overlay of the device, replays the
     * log and commits into the overlay, and the read-only stack then serves the result; the image is not written.
     * Null when the write stack cannot open or replay (said in one warning): the mount then shows the last commit.
     */
    private static Filesystem replayInMemory(BlockDevice device, MountOptions options, Clock clock)
            throws IOException {
        OverlayBlockDevice overlay = OverlayBlockDevice.over(device);
        LogReplay.Report report;
        try {
            // no periodic commit, no compression: the replay's own commit and the close's are all there is
            Filesystem writer = open(overlay, options.withReadOnly(false).withCommitSeconds(0).withCompression(null)
                    .withSpaceCache(null, false), clock);
            report = writer.logReplay;
            writer.writable.close();
        } catch (FsException e) {
            LOG.warn("cannot replay the log in memory: {}; this read-only mount shows the last committed state",
                    e.getMessage());
            return null;
        } catch (RuntimeException e) {
            // a mount for inspection still serves the last commit when the replay meets something it cannot handle
            LOG.warn("cannot replay the log in memory: internal error ({}); this read-only mount shows the last "
                    + "committed state", e.getClass().getSimpleName());
            LOG.debug("the replay's internal error", e);
            return null;
        }
        if (SuperBlocks.readBest(overlay).logRoot() != 0) {
            LOG.warn("the log was not replayed in memory (log_root is still set); this read-only mount shows the last "
                    + "committed state");
            return null;
        }
        Filesystem fs = open(overlay, options, clock);
        LOG.info("replayed the log in memory; the image is unchanged ({} KiB held in memory)",
                overlay.heldBytes() >> 10);
        return new Filesystem(fs.device, fs.members, fs.superBlock, fs.stats, fs.subvolumes, fs.space, fs.operations, null, null,
                report, fs.scrubber);
    }

    /** Stops a mount that failed while opening; what its close says, the open's own error already said. */
    private static void closeQuietly(WritableOperations writable) {
        try {
            writable.close();
        } catch (FsException e) {
            LOG.debug("closing after a failed open: {}", e.getMessage());
        }
    }

    private static ChunkMap readChunkTree(SuperBlock sb, TreeBlockReader reader, ChunkMap bootstrap)
            throws FsException {
        BTree chunkTree = new BTree(reader, ObjectIds.CHUNK_TREE, sb.chunkRoot(), sb.chunkRootLevel(),
                sb.chunkRootGeneration());
        ChunkMap full = new ChunkMap();
        for (var c : bootstrap.chunks()) full.add(c.logical(), c.item());
        try {
            Cursor c = chunkTree.seek(Key.first(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM));
            while (c.valid() && c.key().type() == KeyType.CHUNK_ITEM) {
                full.addChecked(c.key().offset(), c.decode(ChunkItem::read), sb.sectorsize());
                c.next();
            }
        } catch (FsException | IllegalArgumentException e) {
            throw new FsException(Errno.EINVAL, "cannot read the chunk tree: " + e.getMessage());
        }
        return full;
    }

    private static BTree optionalTree(Subvolumes subvolumes, long id) throws FsException {
        try {
            return subvolumes.tree(id);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            return null;
        }
    }

    /** What the replay of the image's log tree did at this open, or null when there was none. */
    public LogReplay.Report logReplay() {
        return logReplay;
    }

    /** The operations by inode that the adapter calls. */
    public FsOperations operations() {
        return operations;
    }

    /** The superblock the image was opened from. */
    public SuperBlock superBlock() {
        return superBlock;
    }

    /** A summary for people. */
    public FsInfo info() throws IOException {
        SuperBlock sb = superBlock;
        int copies = 0;
        for (long off : SuperBlock.MIRROR_OFFSETS) {
            if (off + SuperBlock.SIZE <= device.size()) copies++;
        }
        return new FsInfo(sb.label(), Uuids.format(sb.fsid()), sb.generation(), sb.nodesize(), sb.sectorsize(),
                ChecksumType.fromCode(sb.csumType()).displayName(), Features.compatNames(sb.compatFlags()),
                Features.compatRoNames(sb.compatRoFlags()), Features.incompatNames(sb.incompatFlags()),
                sb.totalBytes(), sb.bytesUsed(), sb.numDevices(), copies, space.summaries(), subvolumes.list(), members.list());
    }

    /** Block groups summed by type and profile (what {@link #info()} shows, without the subvolume walk). */
    public List<FsInfo.BlockGroupSummary> blockGroups() throws IOException {
        return space.summaries();
    }

    /** Counts of checksum failures, mirror retries and corrupt blocks met since open. */
    public ReadCounters counters() {
        return new ReadCounters(stats.dataChecksumFailures(), stats.metadataChecksumFailures(), stats.mirrorRetries(),
                stats.corruptBlocks());
    }

    /** The live counters (for meters). */
    public ReadStats stats() {
        return stats;
    }

    /** Tells {@code listener} of every commit (read-write mounts; never called on read-only ones). */
    public void onCommit(Consumer<CommitReport> listener) {
        if (transactions != null) transactions.setListener(stats -> listener.accept(report(stats)));
    }

    private static CommitReport report(TransactionManager.CommitStats s) {
        SuperWriter.Writeout w = s.writeout();
        DirtyBlockGroupWriteout.CacheWriteout c = s.caches();
        return new CommitReport(s.transid(), s.nanos(),
                new CommitReport.Writeout(w.treeBlocks(), w.bytes(), w.peakInFlight(), w.submitNanos(),
                        w.waitNanos(), 0),
                c == null ? null : new CommitReport.Writeout(c.groups(), c.bytes(), c.peakInFlight(),
                        c.submitNanos(), c.waitNanos(), c.failed().size()));
    }

    /** Bytes of tree blocks the running transaction has changed and not yet written (0 read-only). */
    public long dirtyMetadataBytes() {
        TransactionManager t = transactions;
        if (t == null) return 0;
        Transaction running = t.running();
        return running == null ? 0 : running.dirtyBytes();
    }

    /** The v1 space caches as a read-write mount found them, by block group (empty otherwise). */
    public Map<Long, Result> spaceCachesAtMount() {
        return transactions == null ? Map.of() : transactions.cachesAtMount();
    }

    /**
     * Marks every v1 space cache for rewriting at the next commit, as clear_cache does at mount (bench-commit uses
     * it to dirty every block group); nothing on read-only mounts or free-space-tree images.
     */
    public void markSpaceCachesStale() throws FsException {
        if (writable != null) writable.markSpaceCachesStale();
    }

    /** The commit machinery of a read-write mount (tools and tests that look at a running transaction); null read-only. */
    public TransactionManager transactions() {
        return transactions;
    }

    /**
     * The fsyncs since open that fell back to a full commit because the log could not take them, by why (lower
     * case: names, not_a_file, new_subvolume, too_big, unsupported_item); empty read-only.
     */
    public Map<String, Long> fsyncFallbacks() {
        return writable == null ? Map.of() : writable.fsyncFallbacks();
    }

    /** Commits made since open. */
    public long commits() {
        return transactions == null ? 0 : transactions.commits();
    }

    /** The abort that turned a read-write mount read-only, or null (never on read-only mounts). */
    public TransactionAbortedException aborted() {
        return transactions == null ? null : transactions.aborted();
    }

    /** Tells {@code listener} of the abort, once, when it happens (read-write mounts). */
    public void onAbort(Consumer<TransactionAbortedException> listener) {
        if (transactions != null) transactions.setAbortListener(listener);
    }

    /** Whether changes are refused (a read-only mount, or a read-write one after a failed commit). */
    public boolean readOnly() {
        return writable == null || writable.readOnly();
    }

    /**
     * Commits what is pending (read-write mounts), then closes the device. Throws
     * {@link jbtrfs.TransactionAbortedException} when the filesystem aborted, earlier or in this last commit: the
     * changes since the last commit were not written, and whoever unmounts must say so.
     */
    @Override
    public void close() throws IOException {
        try {
            scrubber.close();
            if (writable != null) writable.close();
        } finally {
            try {
                device.close();
            } finally {
                members.closeOthers(device);
            }
        }
    }

    /** Counters of read-path events that a person or a metrics endpoint wants to see. */
    public record ReadCounters(long dataChecksumFailures, long metadataChecksumFailures, long mirrorRetries,
                               long corruptBlocks) {
    }
}
