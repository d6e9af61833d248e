package jbtrfs.fs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.format.Uuids;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.Volume;

/**
 * Space by block group: one BLOCK_GROUP_ITEM per chunk (in the extent tree, or the block-group tree), summed by
 * type and profile for {@code info}, and turned into statfs figures the way the kernel's btrfs_statfs does.
 */
final class SpaceReport {
    /** The kernel keeps the first MiB of a device free and never allocates chunks there. */
    private static final long DEVICE_RESERVED = 1L << 20;
    /** BTRFS_STRIPE_LEN: the unit members' free space is counted in. */
    private static final long STRIPE_LEN = 64 * 1024;

    /** The kernel's cap on the global block reserve. */
    private static final long MAX_GLOBAL_RESERVE = 512L << 20;
    /** BTRFS_MAX_LEVEL: a tree insert may touch a node per level, and split each (hence twice). */
    private static final int MAX_LEVEL = 8;
    /** BTRFS_UNLINK_METADATA_UNITS: the items an unlink touches, kept for the fallback unlink. */
    private static final int UNLINK_METADATA_UNITS = 6;

    private final SuperBlock sb;
    private final Volume volume;
    private final Subvolumes subvolumes;
    private volatile ItemSource items;
    /** The members the chunk tree names (path null: missing); a one-device filesystem's own dev_item. */
    private volatile List<FsInfo.Device> listed;

    /** Where a chunk's block group item comes from: the committed tree, or a read-write mount's live state. */
    interface ItemSource {
        /** The item of the block group of {@code chunk}, or null when there is none. */
        BlockGroupItem item(Chunk chunk) throws FsException;
    }

    SpaceReport(SuperBlock sb, Volume volume, BTree blockGroupTree, Subvolumes subvolumes) {
        this.sb = sb;
        this.volume = volume;
        this.subvolumes = subvolumes;
        this.items = chunk -> {
            Cursor c = blockGroupTree.find(new Key(chunk.logical(), KeyType.BLOCK_GROUP_ITEM, chunk.length()));
            return c == null ? null : c.decode(BlockGroupItem.SIZE, BlockGroupItem::read);
        };
        this.listed = List.of(new FsInfo.Device(sb.devItem().devid(), Uuids.format(sb.devItem().uuid()),
                sb.devItem().totalBytes(), sb.devItem().bytesUsed(), ""));
    }

    /** The members of a multi-device set, as the chunk tree's DEV_ITEMs name them. */
    void setMembers(List<FsInfo.Device> members) {
        if (!members.isEmpty()) this.listed = List.copyOf(members);
    }

    /**
     * Every member with bytes_used as its dev extents sum now: chunks allocated since the last commit count, as
     * they do in the kernel's btrfs_device.
     */
    List<FsInfo.Device> devices() {
        Map<Long, Long> used = new TreeMap<>();
        for (Chunk c : volume.chunks().chunks()) {
            for (Stripe s : c.item().stripes()) used.merge(s.devid(), c.stripeLength(), Long::sum);
        }
        List<FsInfo.Device> out = new ArrayList<>();
        for (FsInfo.Device d : listed) {
            out.add(new FsInfo.Device(d.devid(), d.uuid(), d.totalBytes(), used.getOrDefault(d.devid(), 0L),
                    d.path()));
        }
        return out;
    }

    /** A read-write mount reports its in-memory block groups (they change between commits). */
    void setItemSource(ItemSource source) { this.items = source; }

    /** One block group: its chunk and its item. */
    record BlockGroup(Chunk chunk, BlockGroupItem item) {
    }

    List<BlockGroup> blockGroups() throws FsException {
        List<BlockGroup> out = new ArrayList<>();
        for (Chunk chunk : volume.chunks().chunks()) {
            BlockGroupItem item = items.item(chunk);
            if (item == null) {
                throw new FsException(Errno.EIO, "chunk at " + Long.toUnsignedString(chunk.logical()) + " has no block group item");
            }
            out.add(new BlockGroup(chunk, item));
        }
        return out;
    }

    List<FsInfo.BlockGroupSummary> summaries() throws FsException {
        Map<String, long[]> sums = new LinkedHashMap<>();
        for (BlockGroup bg : blockGroups()) {
            long flags = bg.chunk().item().type();
            String key = BlockGroupFlags.typeName(flags) + "\u0000" + BlockGroupFlags.profileName(flags);
            long[] s = sums.computeIfAbsent(key, k -> new long[3]);
            s[0]++;
            s[1] += bg.chunk().length();
            s[2] += bg.item().used();
        }
        List<FsInfo.BlockGroupSummary> out = new ArrayList<>();
        for (Map.Entry<String, long[]> e : sums.entrySet()) {
            String[] tp = e.getKey().split("\u0000");
            long[] s = e.getValue();
            out.add(new FsInfo.BlockGroupSummary(tp[0], tp[1], (int) s[0], s[1], s[2]));
        }
        return out;
    }

    /** The raid index order the kernel lists a space info's block groups in (btrfs_raid_array). */
    private static final long[] RAID_ORDER = {BlockGroupFlags.RAID10, BlockGroupFlags.RAID1, BlockGroupFlags.DUP,
        BlockGroupFlags.RAID0, 0, BlockGroupFlags.RAID5, BlockGroupFlags.RAID6, BlockGroupFlags.RAID1C3,
        BlockGroupFlags.RAID1C4};

    /**
     * BTRFS_IOC_SPACE_INFO as btrfs_ioctl_space_info lists it: by type (data, system, metadata, mixed), then by
     * profile in raid index order, the block groups' lengths and used bytes summed; last the global reserve, whose
     * used part is 0 between transactions (the kernel's reserve is refilled then).
     */
    List<SpaceInfo> spaceInfo() throws FsException {
        List<BlockGroup> groups = blockGroups();
        List<SpaceInfo> out = new ArrayList<>();
        for (long type : new long[] {BlockGroupFlags.DATA, BlockGroupFlags.SYSTEM, BlockGroupFlags.METADATA,
                BlockGroupFlags.DATA | BlockGroupFlags.METADATA}) {
            for (long profile : RAID_ORDER) {
                long flags = 0;
                long total = 0;
                long used = 0;
                for (BlockGroup bg : groups) {
                    long f = bg.chunk().item().type();
                    if ((f & BlockGroupFlags.TYPE_MASK) != type || (f & BlockGroupFlags.PROFILE_MASK) != profile) {
                        continue;
                    }
                    flags = f;
                    total += bg.chunk().length();
                    used += bg.item().used();
                }
                if (flags != 0) out.add(new SpaceInfo(flags, total, used));
            }
        }
        out.add(new SpaceInfo(SpaceInfo.GLOBAL_RSV, globalReserve(), 0));
        return out;
    }

    /**
     * statfs as btrfs_statfs computes it: total and free scaled by the data profile's copies, available = free
     * space inside data block groups plus unallocated device space usable for data; the global block reserve
     * counts as used.
     */
    StatFs statfs() throws FsException {
        long totalUsedDisk = 0;
        long dataFreeDisk = 0;
        int dataFactor = 1;
        long dataProfile = 0;
        for (BlockGroup bg : blockGroups()) {
            long flags = bg.chunk().item().type();
            // btrfs_bg_type_to_factor: the profile's ncopies, 1 for RAID5/6 (parity is not counted)
            long profile = flags & BlockGroupFlags.PROFILE_MASK;
            int copies = profile == BlockGroupFlags.RAID5 || profile == BlockGroupFlags.RAID6 ? 1 : bg.chunk().copies();
            totalUsedDisk += bg.item().used() * copies;
            if ((flags & BlockGroupFlags.DATA) != 0) {
                dataFreeDisk += (bg.chunk().length() - bg.item().used()) * copies;
                dataFactor = copies;
                dataProfile = flags & BlockGroupFlags.PROFILE_MASK;
            }
        }
        int bits = Integer.numberOfTrailingZeros(sb.sectorsize());
        long blocks = (sb.totalBytes() / dataFactor) >>> bits;
        long free = blocks - ((totalUsedDisk / dataFactor) >>> bits);
        long reserve = globalReserve() >>> bits;
        free = free >= reserve ? free - reserve : 0;
        long avail = (dataFreeDisk / dataFactor + availDataSpace(dataProfile) / dataFactor) >>> bits;
        return new StatFs(sb.sectorsize(), blocks, Math.max(0, free), Math.min(Math.max(0, avail), Math.max(0, free)),
                0, 0, 255);
    }

    /**
     * The raw bytes new data chunks of {@code profile} could still take from the members present, as
     * btrfs_calc_avail_data_space counts them: each member's unallocated bytes (stripe aligned, less its first MiB),
     * filled from the smallest up, num_stripes members at a time while the profile's minimum is left.
     */
    private long availDataSpace(long profile) {
        int devsMin = profile == BlockGroupFlags.RAID1 || profile == BlockGroupFlags.RAID10
                || profile == BlockGroupFlags.RAID5 ? 2 : profile == BlockGroupFlags.RAID1C3
                || profile == BlockGroupFlags.RAID6 ? 3 : profile == BlockGroupFlags.RAID1C4 ? 4 : 1;
        long minStripe = (profile == BlockGroupFlags.DUP ? 2 : 1) * STRIPE_LEN;
        List<Long> avail = new ArrayList<>();
        for (FsInfo.Device d : devices()) {
            if (d.path() == null) continue;
            long a = Math.max(0, d.totalBytes() - d.bytesUsed()) / STRIPE_LEN * STRIPE_LEN;
            if (a <= DEVICE_RESERVED + minStripe) continue;
            avail.add(a - DEVICE_RESERVED);
        }
        avail.sort(Comparator.reverseOrder());
        int n = avail.size();
        int numStripes = profile == BlockGroupFlags.RAID0 ? n : profile == BlockGroupFlags.RAID10 ? 4
                : profile == BlockGroupFlags.RAID1 ? 2 : profile == BlockGroupFlags.RAID1C3 ? 3
                : profile == BlockGroupFlags.RAID1C4 ? 4 : 1;
        long[] max = avail.stream().mapToLong(Long::longValue).toArray();
        long total = 0;
        for (int i = n - 1; n >= devsMin && i >= 0; i--, n--) {
            numStripes = Math.min(numStripes, n);
            if (max[i] >= minStripe) {
                long alloc = max[i];
                total += alloc * numStripes;
                for (int j = i + 1 - numStripes; j <= i; j++) max[j] -= alloc;
            }
        }
        return total;
    }

    /**
     * The kernel's global block reserve (btrfs_update_global_block_rsv): the bytes of the extent, checksum and
     * free-space trees (and the block-group tree), at least room to insert an item into each of them, the root
     * tree and the trees an unlink touches, plus the delayed refs of that unlink (twice with the free-space tree); at most
     * 512 MiB. It is metadata kept back for the commit, so statfs shows it as used.
     */
    long globalReserve() throws FsException {
        // by the root items, not the mount-time feature flags: space_cache=v2 may have made the free-space tree
        boolean fst = false;
        long used = 0;
        int items = UNLINK_METADATA_UNITS + 1; // the root tree is always touched too
        for (long id : new long[] {ObjectIds.EXTENT_TREE, ObjectIds.CSUM_TREE, ObjectIds.FREE_SPACE_TREE,
                ObjectIds.BLOCK_GROUP_TREE}) {
            RootItem r = subvolumes.rootItem(id);
            if (r == null) continue;
            fst |= id == ObjectIds.FREE_SPACE_TREE;
            used += r.bytesUsed();
            items++;
        }
        long perItem = (long) sb.nodesize() * MAX_LEVEL * 2;
        long delayedRefs = perItem * UNLINK_METADATA_UNITS * (fst ? 2 : 1);
        return Math.min(Math.max(used, perItem * items + delayedRefs), MAX_GLOBAL_RESERVE);
    }
}
