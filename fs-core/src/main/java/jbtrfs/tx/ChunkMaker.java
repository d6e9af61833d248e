package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.DevExtent;
import jbtrfs.format.DevItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.ChunkMap;
import jbtrfs.volumes.Volume;

/**
 * Makes new chunks when data or metadata block groups are full (≈ btrfs_create_chunk): the devices with room,
 * sorted by their largest hole (most first), give the profile its stripes; the stripe size is the smallest of
 * their holes, bounded by the chunk size rules. The chunk is usable at once in memory; its chunk item, device
 * extents and device items reach the trees when the commit calls {@link #writePending}, so no tree is edited from
 * inside another tree's edit. A SYSTEM chunk also goes to the superblock's sys_chunk_array at the commit
 * ({@link #addSystemChunks}); one that would not fit its 2048 bytes is not made (the kernel's -EFBIG).
 */
final class ChunkMaker implements BlockGroups.ChunkAllocator {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkMaker.class);
    private static final long DEVICE_RESERVED = 1L << 20;
    private static final long STRIPE_LEN = 64 * 1024;
    private static final long SIZE_ALIGN = 16L << 20;

    /** One member as the allocator sees it: its dev item (raw, for the superblocks), its dev extents, its use. */
    private static final class Member {
        final long devid;
        final byte[] uuid;
        final long totalBytes;
        final byte[] rawItem;
        final TreeMap<Long, Long> devExtents = new TreeMap<>();
        long bytesUsed;
        boolean dirty;

        Member(DevItem item, byte[] rawItem) {
            this.devid = item.devid();
            this.uuid = item.uuid();
            this.totalBytes = item.totalBytes();
            this.bytesUsed = item.bytesUsed();
            this.rawItem = rawItem;
        }
    }

    /** A device that can take a stripe: where its hole starts, the hole's length, all its unallocated bytes. */
    private record Candidate(Member member, long holeStart, long maxAvail, long totalAvail) {
    }

    private final Volume volume;
    private final byte[] chunkTreeUuid;
    /** The device the filesystem was opened from (the one whose superblock a one-device filesystem keeps). */
    private final long devid;
    private final Map<Long, Member> members = new TreeMap<>();
    private final List<long[]> pending = new ArrayList<>();
    private final List<ChunkItem> pendingItems = new ArrayList<>();

    ChunkMaker(Volume volume, BTree chunkTree, BTree devTree, DevItem devItem, byte[] chunkTreeUuid)
            throws FsException {
        this.volume = volume;
        this.chunkTreeUuid = chunkTreeUuid.clone();
        this.devid = devItem.devid();
        Cursor items = chunkTree.seek(Key.first(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM));
        while (items.valid() && items.key().objectid() == ObjectIds.DEV_ITEMS
                && items.key().type() == KeyType.DEV_ITEM) {
            if (volume.members().containsKey(items.key().offset())) {
                byte[] raw = new byte[DevItem.SIZE];
                items.buffer().get(items.dataOffset(), raw);
                members.put(items.key().offset(), new Member(items.decode(DevItem.SIZE, DevItem::read), raw));
            }
            items.next();
        }
        // the superblock's own item is the one a one-device filesystem goes by (as it always did)
        Member first = new Member(devItem, null);
        Member listed = members.get(devid);
        members.put(devid, listed == null || volume.members().size() == 1 ? first : listed);
        for (Member m : members.values()) {
            Cursor c = devTree.seek(Key.first(m.devid, KeyType.DEV_EXTENT));
            while (c.valid() && c.key().objectid() == m.devid && c.key().type() == KeyType.DEV_EXTENT) {
                m.devExtents.put(c.key().offset(), c.decode(DevExtent.SIZE, DevExtent::read).length());
                c.next();
            }
        }
    }

    /** bytes_used of the device the filesystem was opened from. */
    long devBytesUsed() { return members.get(devid).bytesUsed; }

    /**
     * Each member's dev_item for its superblocks (the chunk tree's item with bytes_used now), by devid; null for a
     * filesystem of one device, whose superblock keeps its own dev_item.
     */
    Map<Long, byte[]> superDevItems() {
        if (volume.members().size() == 1) return null;
        Map<Long, byte[]> out = new TreeMap<>();
        for (Member m : members.values()) {
            byte[] raw = m.rawItem.clone();
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putLong(DevItem.OFFSET_BYTES_USED, m.bytesUsed);
            out.put(m.devid, raw);
        }
        return out;
    }

    /**
     * The kernel's btrfs_raid_array row of a profile: devices at least and at most (0: any), copies of each
     * byte, parity stripes, stripes per device, the step the device count goes in, sub_stripes.
     */
    private record RaidAttr(int devsMin, int devsMax, int ncopies, int nparity, int devStripes, int devsIncrement,
                            int subStripes) {
        static RaidAttr of(long profile) {
            if (profile == BlockGroupFlags.DUP) return new RaidAttr(1, 1, 2, 0, 2, 1, 1);
            if (profile == BlockGroupFlags.RAID0) return new RaidAttr(1, 0, 1, 0, 1, 1, 1);
            if (profile == BlockGroupFlags.RAID1) return new RaidAttr(2, 2, 2, 0, 1, 2, 1);
            if (profile == BlockGroupFlags.RAID1C3) return new RaidAttr(3, 3, 3, 0, 1, 3, 1);
            if (profile == BlockGroupFlags.RAID1C4) return new RaidAttr(4, 4, 4, 0, 1, 4, 1);
            if (profile == BlockGroupFlags.RAID10) return new RaidAttr(2, 0, 2, 0, 1, 2, 2);
            if (profile == BlockGroupFlags.RAID5) return new RaidAttr(2, 0, 1, 1, 1, 1, 1);
            if (profile == BlockGroupFlags.RAID6) return new RaidAttr(3, 0, 1, 2, 1, 1, 1);
            if (profile == 0) return new RaidAttr(1, 1, 1, 0, 1, 1, 1);
            return null;
        }
    }

    /** The profiles in the order the kernel prefers them when several are allowed (most redundancy first). */
    private static final long[] PREFERRED = {BlockGroupFlags.RAID1C4, BlockGroupFlags.RAID6, BlockGroupFlags.RAID1C3,
            BlockGroupFlags.RAID5, BlockGroupFlags.RAID10, BlockGroupFlags.RAID1, BlockGroupFlags.DUP,
            BlockGroupFlags.RAID0};

    /**
     * The profile of a new chunk (≈ btrfs_reduce_alloc_profile): of the profiles the type's block groups have, the
     * most redundant that the {@code writable} members can hold; SINGLE when none can (a degraded mount with too
     * few members left for its profile).
     */
    static long reduceProfile(long profiles, int writable) {
        for (long p : PREFERRED) {
            if ((profiles & p) != 0 && writable >= devsMin(p)) return p;
        }
        return 0;
    }

    /** The fewest devices a chunk of {@code profile} takes (btrfs_raid_array's devs_min). */
    private static int devsMin(long profile) {
        if (profile == BlockGroupFlags.RAID5) return 2;
        if (profile == BlockGroupFlags.RAID6) return 3;
        return RaidAttr.of(profile).devsMin;
    }

    @Override
    public boolean allocateChunk(BlockGroups groups, long type, long minSize) throws FsException {
        long profiles = 0;
        long fullType = type;
        for (BlockGroup bg : groups.all()) {
            if (bg.holds(type)) {
                profiles |= bg.flags() & BlockGroupFlags.PROFILE_MASK;
                fullType = bg.flags() & BlockGroupFlags.TYPE_MASK;
            }
        }
        long profile = reduceProfile(profiles, members.size());
        RaidAttr raid = RaidAttr.of(profile);
        if (raid == null) return false;
        long totalRw = 0;
        for (Member m : members.values()) totalRw += m.totalBytes;
        long maxChunk = Math.min(totalRw / 10, spaceInfoChunkSize(fullType, totalRw));
        long maxStripe = Math.min(spaceInfoChunkSize(fullType, totalRw), 1L << 30);
        List<Candidate> devices = gather(maxStripe * raid.devStripes, STRIPE_LEN * raid.devStripes);
        int ndevs = raid.devsMax == 0 ? devices.size() : Math.min(devices.size(), raid.devsMax);
        ndevs -= ndevs % raid.devsIncrement;
        if (ndevs < raid.devsMin) return false;
        // decide_stripe_size: the smallest hole of the devices taken bounds every stripe
        long stripe = devices.get(ndevs - 1).maxAvail / raid.devStripes;
        int numStripes = ndevs * raid.devStripes;
        int dataStripes = (numStripes - raid.nparity) / raid.ncopies;
        if (stripe * dataStripes > maxChunk) {
            stripe = Math.min(roundUp(maxChunk / dataStripes, SIZE_ALIGN), stripe);
        }
        stripe = Math.min(stripe, 1L << 30) / STRIPE_LEN * STRIPE_LEN;
        long size = stripe * dataStripes;
        long need = roundUp(Math.max(minSize, STRIPE_LEN), STRIPE_LEN);
        if (stripe == 0 || size < need) return false;
        if ((fullType & BlockGroupFlags.SYSTEM) != 0
                && sysChunkArrayBytes() + sysEntrySize(numStripes) > SuperBlock.SYS_CHUNK_ARRAY_MAX) {
            LOG.warn("no new system chunk: its {} stripes would not fit the superblock's sys_chunk_array",
                    numStripes);
            return false;
        }
        long logical = 0;
        for (Chunk c : volume.chunks().chunks()) logical = Math.max(logical, c.end());
        List<Stripe> list = new ArrayList<>();
        for (int i = 0; i < ndevs; i++) {
            Candidate d = devices.get(i);
            for (int j = 0; j < raid.devStripes; j++) {
                list.add(new Stripe(d.member.devid, d.holeStart + j * stripe, d.member.uuid));
            }
        }
        ChunkItem template = templateFor();
        ChunkItem item = new ChunkItem(size, ObjectIds.EXTENT_TREE, STRIPE_LEN, fullType | profile,
                template.ioAlign(), template.ioWidth(), template.sectorSize(), numStripes, raid.subStripes, list);
        volume.addChunk(logical, item);
        for (Stripe s : list) {
            Member m = members.get(s.devid());
            m.devExtents.put(s.offset(), stripe);
            m.bytesUsed += stripe;
            m.dirty = true;
        }
        groups.addNew(logical, size, fullType | profile, volume.chunks());
        pending.add(new long[] {logical});
        pendingItems.add(item);
        LOG.info("new {} {} chunk at {} of {} bytes ({} stripe(s) of {})", BlockGroupFlagsName.of(fullType),
                BlockGroupFlags.profileName(profile), logical, size, numStripes, stripe);
        return true;
    }

    /**
     * gather_device_info: every member with at least {@code min} unallocated bytes in one hole, with the first hole
     * that takes {@code want} (else its largest), most room first (then most unallocated, then devid).
     */
    private List<Candidate> gather(long want, long min) {
        List<Candidate> out = new ArrayList<>();
        for (Member m : members.values()) {
            long totalAvail = m.totalBytes - m.bytesUsed;
            if (totalAvail < min) continue;
            long[] hole = freeHole(m, want);
            if (hole[1] < min) continue;
            out.add(new Candidate(m, hole[0], hole[1], totalAvail));
        }
        out.sort(Comparator.comparingLong(Candidate::maxAvail).reversed()
                .thenComparing(Comparator.comparingLong(Candidate::totalAvail).reversed())
                .thenComparingLong(c -> c.member.devid));
        return out;
    }

    /** The bytes one SYSTEM chunk takes in the sys_chunk_array: its key and its chunk item. */
    private static int sysEntrySize(int numStripes) {
        return Key.SIZE + ChunkItem.size(numStripes);
    }

    /** The sys_chunk_array's size once it holds every SYSTEM chunk of the map (those made since, too). */
    private int sysChunkArrayBytes() {
        int n = 0;
        for (Chunk c : volume.chunks().chunks()) {
            if ((c.item().type() & BlockGroupFlags.SYSTEM) != 0) n += sysEntrySize(c.item().numStripes());
        }
        return n;
    }

    /**
     * Appends to the sys_chunk_array of the superblock {@code sb} every SYSTEM chunk of the map it lacks, in logical
     * order (≈ btrfs_add_system_chunk): the chunk tree's blocks in a new SYSTEM chunk are found from the superblock.
     */
    void addSystemChunks(ByteBuffer sb) throws FsException {
        int size = sb.getInt(SuperBlock.OFFSET_SYS_CHUNK_ARRAY_SIZE);
        ChunkMap listed = ChunkMap.fromSysChunkArray(sb.slice(SuperBlock.OFFSET_SYS_CHUNK_ARRAY, size)
                .order(ByteOrder.LITTLE_ENDIAN), templateFor().sectorSize());
        for (Chunk c : volume.chunks().chunks()) {
            if ((c.item().type() & BlockGroupFlags.SYSTEM) == 0) continue;
            Chunk known = listed.find(c.logical());
            if (known != null && known.logical() == c.logical()) continue;
            byte[] item = c.item().encode();
            if (size + Key.SIZE + item.length > SuperBlock.SYS_CHUNK_ARRAY_MAX) {
                throw new FsException(Errno.EFBIG, "the system chunk at logical " + Long.toUnsignedString(c.logical())
                        + " does not fit the superblock's sys_chunk_array");
            }
            new Key(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, c.logical())
                    .write(sb, SuperBlock.OFFSET_SYS_CHUNK_ARRAY + size);
            sb.put(SuperBlock.OFFSET_SYS_CHUNK_ARRAY + size + Key.SIZE, item);
            size += Key.SIZE + item.length;
        }
        sb.putInt(SuperBlock.OFFSET_SYS_CHUNK_ARRAY_SIZE, size);
    }

    private ChunkItem templateFor() {
        for (Chunk c : volume.chunks().chunks()) return c.item();
        throw new IllegalStateException("no chunk to copy io_align from");
    }

    /**
     * The space info's chunk size (≈ calc_chunk_size): data 1 GiB (10 GiB past 50 GiB writable), metadata
     * 256 MiB (1 GiB past 50 GiB), system 32 MiB.
     */
    private static long spaceInfoChunkSize(long type, long totalRw) {
        if ((type & BlockGroupFlags.SYSTEM) != 0) return 32L << 20;
        boolean big = totalRw > (50L << 30);
        if ((type & BlockGroupFlags.DATA) != 0) return big ? 10L << 30 : 1L << 30;
        return big ? 1L << 30 : 256L << 20;
    }

    private static long roundUp(long value, long align) {
        return (value + align - 1) / align * align;
    }

    /**
     * find_free_dev_extent: the first unallocated stretch of the device past its first MiB that holds {@code want}
     * bytes, else the largest: {start, length}.
     */
    private static long[] freeHole(Member m, long want) {
        long best = 0;
        long bestAt = 0;
        long at = DEVICE_RESERVED;
        List<long[]> holes = new ArrayList<>();
        for (Map.Entry<Long, Long> e : m.devExtents.entrySet()) {
            if (e.getKey() > at) holes.add(new long[] {at, e.getKey() - at});
            at = Math.max(at, e.getKey() + e.getValue());
        }
        if (m.totalBytes > at) holes.add(new long[] {at, m.totalBytes - at});
        for (long[] hole : holes) {
            if (hole[1] > best) {
                best = hole[1];
                bestAt = hole[0];
            }
            if (hole[1] >= want) return hole;
        }
        return new long[] {bestAt, best};
    }

    /** Inserts the items of chunks made since the last call; returns whether there were any. */
    boolean writePending(Transaction tx) throws FsException {
        boolean dirty = false;
        for (Member m : members.values()) dirty |= m.dirty;
        if (pending.isEmpty() && !dirty) return false;
        List<long[]> chunks = new ArrayList<>(pending);
        List<ChunkItem> items = new ArrayList<>(pendingItems);
        pending.clear();
        pendingItems.clear();
        TreeRoot chunkRoot = tx.root(ObjectIds.CHUNK_TREE);
        TreeRoot devRoot = tx.root(ObjectIds.DEV_TREE);
        for (int i = 0; i < chunks.size(); i++) {
            long logical = chunks.get(i)[0];
            ChunkItem item = items.get(i);
            tx.editor().insert(chunkRoot, new Key(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, logical),
                    item.encode());
            for (Stripe s : item.stripes()) {
                tx.editor().insert(devRoot, new Key(s.devid(), KeyType.DEV_EXTENT, s.offset()),
                        new DevExtent(ObjectIds.CHUNK_TREE, ObjectIds.FIRST_CHUNK_TREE, logical,
                                members.get(s.devid()).devExtents.get(s.offset()), chunkTreeUuid).encode());
            }
        }
        for (Member m : members.values()) {
            if (!m.dirty) continue;
            m.dirty = false;
            Key key = new Key(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM, m.devid);
            Cursor c = tx.tree(ObjectIds.CHUNK_TREE).find(key);
            if (c == null) throw new FsException(Errno.EIO, "no dev item for device " + m.devid);
            byte[] data = new byte[c.dataSize()];
            c.buffer().get(c.dataOffset(), data);
            ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(DevItem.OFFSET_BYTES_USED, m.bytesUsed);
            tx.editor().put(chunkRoot, key, data);
        }
        return true;
    }

    /** Names for log lines. */
    private static final class BlockGroupFlagsName {
        static String of(long type) {
            if ((type & BlockGroupFlags.SYSTEM) != 0) return "system";
            return (type & BlockGroupFlags.DATA) != 0 ? ((type & BlockGroupFlags.METADATA) != 0 ? "mixed" : "data")
                    : "metadata";
        }
    }
}
