package jbtrfs.fuse;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Stripe;
import jbtrfs.fs.SpaceInfo;
import jbtrfs.fs.TreeSearchItem;
import jbtrfs.fuse.node.BtrfsIoctl;

/**
 * {@code jbtrfs filesystem usage}: btrfs-progs' cmds/filesystem-usage.c figures and linear layout, from SPACE_INFO,
 * FS_INFO and DEV_INFO, and the chunk tree through TREE_SEARCH for each device's share of each profile. RAID5/6,
 * which a single device cannot hold, and zoned devices are left out.
 */
final class FilesystemUsage {
    private static final int EPERM = 1;
    private static final int ENODEV = 19;
    /** BLKGETSIZE64: _IOR(0x12, 114, size_t). */
    private static final long BLKGETSIZE64 = 0x80081272L;
    /** Below this much unallocated space, progs leaves it out of the free estimate. */
    private static final long MIN_UNALLOCATED = 16L << 20;

    /** One device: DEV_INFO's figures and the size of what holds it (0 when it cannot be found: missing). */
    record Device(long devid, String path, long size, long deviceSize) {
    }

    /** The bytes of one chunk type held on one device (progs' chunk_info: summed per type, devid, stripes). */
    record DeviceChunks(long type, long devid, int stripes, long size) {
    }

    private final List<SpaceInfo> spaces;
    private final List<Device> devices;
    private final List<DeviceChunks> chunks;
    private final long statfsFree;

    FilesystemUsage(List<SpaceInfo> spaces, List<Device> devices, List<DeviceChunks> chunks, long statfsFree) {
        List<SpaceInfo> sorted = new ArrayList<>(spaces);
        sorted.sort((a, b) -> compareTypes(a.flags(), b.flags()));
        this.spaces = sorted;
        this.devices = devices;
        this.chunks = chunks;
        this.statfsFree = statfsFree;
    }

    /** Everything {@code usage} prints, read through the mount's ioctls. */
    static FilesystemUsage read(BtrfsIoctlClient mount, Path path) throws CliException {
        List<SpaceInfo> spaces = FilesystemCommand.spaceInfo(mount);
        List<DeviceChunks> chunks = new ArrayList<>();
        Key first = Key.first(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM);
        Key last = Key.last(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM);
        ByteBuffer probe = BtrfsIoctlClient.buffer(BtrfsIoctl.SEARCH_ARGS_SIZE);
        new BtrfsIoctl.SearchKey(ObjectIds.CHUNK_TREE, first, last, 0, -1L, 1).write(probe);
        // the chunk tree takes root, as on the kernel: without it, progs goes on without the per-device figures
        boolean permitted = mount.call(Integer.toUnsignedLong(BtrfsIoctl.TREE_SEARCH), probe) != EPERM;
        if (!permitted) {
            System.err.println("WARNING: cannot read detailed chunk info, per-device usage will not be shown, run as"
                    + " root");
        }
        for (TreeSearchItem it : permitted ? SubvolumeTable.search(mount, ObjectIds.CHUNK_TREE, first, last)
                : List.<TreeSearchItem>of()) {
            ChunkItem c = ChunkItem.read(ByteBuffer.wrap(it.data()).order(ByteOrder.LITTLE_ENDIAN), 0,
                    it.data().length);
            for (Stripe s : c.stripes()) add(chunks, c.type(), s.devid(), c.numStripes(), c.length());
        }
        long statfsFree;
        try {
            statfsFree = Files.getFileStore(path).getUsableSpace();
        } catch (IOException e) {
            throw new CliException("cannot get space info with statvfs() on '" + path + "': " + e.getMessage());
        }
        return new FilesystemUsage(spaces, devices(mount), chunks, statfsFree);
    }

    private static void add(List<DeviceChunks> chunks, long type, long devid, int stripes, long length) {
        for (int i = 0; i < chunks.size(); i++) {
            DeviceChunks d = chunks.get(i);
            if (d.type() == type && d.devid() == devid && d.stripes() == stripes) {
                chunks.set(i, new DeviceChunks(type, devid, stripes, d.size() + length));
                return;
            }
        }
        chunks.add(new DeviceChunks(type, devid, stripes, length));
    }

    /** FS_INFO's max_id, then DEV_INFO of each devid up to it (ENODEV: no such device), sorted by devid. */
    static List<Device> devices(BtrfsIoctlClient mount) throws CliException {
        ByteBuffer fi = BtrfsIoctlClient.buffer(BtrfsIoctl.FS_INFO_SIZE);
        mount.ioctl(BtrfsIoctl.FS_INFO, fi, "cannot get filesystem info of");
        long maxId = fi.getLong(BtrfsIoctl.FS_INFO_MAX_ID);
        List<Device> out = new ArrayList<>();
        for (long id = 0; id <= maxId; id++) {
            ByteBuffer di = BtrfsIoctlClient.buffer(BtrfsIoctl.DEV_INFO_SIZE);
            di.putLong(0, id);
            int errno = mount.call(Integer.toUnsignedLong(BtrfsIoctl.DEV_INFO), di);
            if (errno == ENODEV) continue;
            if (errno != 0) throw new CliException("cannot get info about device devid=" + id + ": "
                    + mount.describe(errno));
            byte[] name = BtrfsIoctl.name(di, BtrfsIoctl.DEV_INFO_PATH, BtrfsIoctl.DEV_INFO_SIZE
                    - BtrfsIoctl.DEV_INFO_PATH - 1);
            String path = name == null || name.length == 0 ? "missing" : new String(name, StandardCharsets.UTF_8);
            out.add(new Device(di.getLong(0), path, di.getLong(BtrfsIoctl.DEV_INFO_TOTAL_BYTES),
                    path.equals("missing") ? 0 : deviceSize(Path.of(path))));
        }
        if (out.size() != fi.getLong(BtrfsIoctl.FS_INFO_NUM_DEVICES)) {
            throw new CliException("unexpected number of devices: " + out.size() + " != "
                    + fi.getLong(BtrfsIoctl.FS_INFO_NUM_DEVICES));
        }
        out.sort(Comparator.comparingLong(Device::devid));
        return out;
    }

    /**
     * The size of what holds a device, as progs' device_get_partition_size: a file's length, a block device's
     * BLKGETSIZE64; 0 (counted as missing, as progs does) with a warning when neither can be read.
     */
    private static long deviceSize(Path path) {
        try {
            if (Files.isRegularFile(path)) return Files.size(path);
            try (BtrfsIoctlClient dev = new BtrfsIoctlClient(path)) {
                ByteBuffer b = BtrfsIoctlClient.buffer(8);
                int errno = dev.call(BLKGETSIZE64, b);
                if (errno == 0) return b.getLong(0);
                System.err.println("WARNING: failed to get device size for " + path + ": " + dev.describe(errno));
            }
        } catch (IOException | CliException e) {
            System.err.println("WARNING: failed to get device size for " + path + ": " + e.getMessage());
        }
        return 0;
    }

    /** The whole report: Overall, then each type and profile with its devices, then what is unallocated. */
    List<String> lines(boolean raw) {
        List<String> out = new ArrayList<>(overall(raw));
        out.add("");
        for (SpaceInfo s : spaces) {
            if ((s.flags() & SpaceInfo.GLOBAL_RSV) != 0) continue;
            float percent = 100.0f * s.usedBytes() / (float) (s.totalBytes() + 1);
            out.add(FilesystemCommand.typeName(s.flags()) + "," + BlockGroupFlags.profileName(s.flags()) + ": Size:"
                    + size(s.totalBytes(), raw) + ", Used:" + size(s.usedBytes(), raw) + " (" + fixed(percent) + "%)");
            for (Device d : devices) {
                long total = 0;
                for (DeviceChunks c : chunks) {
                    if (c.type() == s.flags() && c.devid() == d.devid()) total += onDevice(c);
                }
                if (total > 0) out.add("   " + d.path() + "\t" + pad(size(total, raw), 10));
            }
            out.add("");
        }
        if (!chunks.isEmpty()) {
            out.add("Unallocated:");
            for (Device d : devices) {
                long total = 0;
                for (DeviceChunks c : chunks) if (c.devid() == d.devid()) total += onDevice(c);
                out.add("   " + d.path() + "\t" + pad(signedSize(d.size() - total, raw), 10));
            }
        }
        return out;
    }

    private List<String> overall(boolean raw) {
        long totalSize = 0;
        long slack = 0;
        long missing = 0;
        for (Device d : devices) {
            totalSize += d.size();
            slack += d.deviceSize() > 0 ? d.deviceSize() - d.size() : 0;
            if (d.deviceSize() == 0) missing += d.size();
        }
        long dataUsed = 0;
        long dataChunks = 0;
        long lDataChunks = 0;
        long metaUsed = 0;
        long metaChunks = 0;
        long lMetaChunks = 0;
        long sysUsed = 0;
        long sysChunks = 0;
        long reserve = 0;
        long reserveUsed = 0;
        double maxDataRatio = 1.0;
        boolean mixed = false;
        for (SpaceInfo s : spaces) {
            long f = s.flags();
            int ratio = copies(f);
            if (ratio > maxDataRatio) maxDataRatio = ratio;
            if ((f & SpaceInfo.GLOBAL_RSV) != 0) {
                reserve = s.totalBytes();
                reserveUsed = s.usedBytes();
            }
            if ((f & (BlockGroupFlags.DATA | BlockGroupFlags.METADATA))
                    == (BlockGroupFlags.DATA | BlockGroupFlags.METADATA)) {
                mixed = true;
            }
            if ((f & BlockGroupFlags.DATA) != 0) {
                dataUsed += s.usedBytes() * ratio;
                dataChunks += s.totalBytes() * ratio;
                lDataChunks += s.totalBytes();
            }
            if ((f & BlockGroupFlags.METADATA) != 0) {
                metaUsed += s.usedBytes() * ratio;
                metaChunks += s.totalBytes() * ratio;
                lMetaChunks += s.totalBytes();
            }
            if ((f & BlockGroupFlags.SYSTEM) != 0) {
                sysUsed += s.usedBytes() * ratio;
                sysChunks += s.totalBytes() * ratio;
            }
        }
        long allocated = dataChunks + sysChunks + (mixed ? 0 : metaChunks);
        long used = dataUsed + sysUsed + (mixed ? 0 : metaUsed);
        long unallocated = totalSize - allocated;
        double dataRatio = (double) dataChunks / lDataChunks;
        double metaRatio = mixed ? dataRatio : (double) metaChunks / lMetaChunks;
        // progs' u64 arithmetic: a double divided, then truncated back to u64
        long freeEstimated = (long) ((dataChunks - dataUsed) / dataRatio);
        if (mixed) freeEstimated -= reserve - reserveUsed;
        long freeMin = freeEstimated;
        if (Long.compareUnsigned(unallocated, MIN_UNALLOCATED) >= 0) {
            freeEstimated += (long) (unallocated / dataRatio);
            freeMin += (long) (unallocated / maxDataRatio);
        }
        int w = raw ? 18 : 10;
        List<String> out = new ArrayList<>();
        out.add("Overall:");
        out.add("    Device size:\t\t" + pad(size(totalSize, raw), w));
        out.add("    Device allocated:\t\t" + pad(size(allocated, raw), w));
        out.add("    Device unallocated:\t\t" + pad(signedSize(unallocated, raw), w));
        out.add("    Device missing:\t\t" + pad(size(missing, raw), w));
        out.add("    Device slack:\t\t" + pad(size(slack, raw), w));
        out.add("    Used:\t\t\t" + pad(size(used, raw), w));
        out.add("    Free (estimated):\t\t" + pad(size(freeEstimated, raw), w) + "\t(min: " + size(freeMin, raw) + ")");
        out.add("    Free (statfs, df):\t\t" + pad(size(statfsFree, raw), w));
        out.add("    Data ratio:\t\t\t" + pad(fixed(dataRatio), w));
        out.add("    Metadata ratio:\t\t" + pad(fixed(metaRatio), w));
        out.add("    Global reserve:\t\t" + pad(size(reserve, raw), w) + "\t(used: " + size(reserveUsed, raw) + ")");
        String multiple = multipleProfiles();
        out.add(multiple.isEmpty() ? "    Multiple profiles:\t\t" + pad("no", w)
                : "    Multiple profiles:\t\t" + pad("yes", w) + "\t(" + multiple + ")");
        return out;
    }

    /** The types that hold block groups of more than one profile, as btrfs_test_for_multiple_profiles names them. */
    private String multipleProfiles() {
        long both = BlockGroupFlags.DATA | BlockGroupFlags.METADATA;
        String[] names = {"data", "metadata", "data+metadata", "system"};
        long[] types = {BlockGroupFlags.DATA, BlockGroupFlags.METADATA, both, BlockGroupFlags.SYSTEM};
        List<String> out = new ArrayList<>();
        for (int i = 0; i < types.length; i++) {
            long type = types[i];
            long profiles = spaces.stream().filter(s -> (s.flags() & SpaceInfo.GLOBAL_RSV) == 0)
                    .filter(s -> (s.flags() & both) == both ? type == both
                            : (s.flags() & BlockGroupFlags.DATA) != 0 ? type == BlockGroupFlags.DATA
                            : (s.flags() & BlockGroupFlags.METADATA) != 0 ? type == BlockGroupFlags.METADATA
                            : type == BlockGroupFlags.SYSTEM && (s.flags() & BlockGroupFlags.SYSTEM) != 0)
                    .map(s -> s.flags() & BlockGroupFlags.PROFILE_MASK).distinct().count();
            if (profiles > 1) out.add(names[i]);
        }
        return String.join(", ", out);
    }

    /** progs' calc_chunk_size: a device's bytes of a striped profile are the chunk's share; mirrors hold it whole. */
    private static long onDevice(DeviceChunks c) {
        long mirrored = BlockGroupFlags.RAID1 | BlockGroupFlags.RAID1C3 | BlockGroupFlags.RAID1C4
                | BlockGroupFlags.DUP;
        if ((c.type() & mirrored) != 0) return c.size();
        int parity = (c.type() & BlockGroupFlags.RAID5) != 0 ? 1 : (c.type() & BlockGroupFlags.RAID6) != 0 ? 2 : 0;
        int subStripes = (c.type() & BlockGroupFlags.RAID10) != 0 ? 2 : 1;
        return c.size() / ((c.stripes() - parity) / subStripes);
    }

    /** btrfs_bg_type_to_ncopies; the global reserve's line counts once. */
    private static int copies(long flags) {
        if ((flags & BlockGroupFlags.RAID1C4) != 0) return 4;
        if ((flags & BlockGroupFlags.RAID1C3) != 0) return 3;
        if ((flags & (BlockGroupFlags.RAID1 | BlockGroupFlags.DUP | BlockGroupFlags.RAID10)) != 0) return 2;
        return 1;
    }

    /** progs' cmp_chunk_block_group: system last, then by type bits, within a type by profile bits. */
    static int compareTypes(long f1, long f2) {
        long mask;
        if ((f1 & BlockGroupFlags.TYPE_MASK) == (f2 & BlockGroupFlags.TYPE_MASK)) {
            mask = BlockGroupFlags.PROFILE_MASK;
        } else if ((f2 & BlockGroupFlags.SYSTEM) != 0) {
            return -1;
        } else if ((f1 & BlockGroupFlags.SYSTEM) != 0) {
            return 1;
        } else {
            mask = BlockGroupFlags.TYPE_MASK;
        }
        return Long.compareUnsigned(f1 & mask, f2 & mask);
    }

    private static String size(long bytes, boolean raw) {
        return raw ? Long.toUnsignedString(bytes) : FilesystemCommand.prettySize(bytes);
    }

    /** UNITS_NEGATIVE: a figure that may go below zero printed signed. */
    private static String signedSize(long bytes, boolean raw) {
        if (bytes >= 0) return size(bytes, raw);
        return raw ? Long.toString(bytes) : "-" + FilesystemCommand.prettySize(-bytes);
    }

    /** printf's %.2f of a double: its exact binary value rounded (glibc). */
    static String fixed(double v) {
        return new BigDecimal(v).setScale(2, RoundingMode.HALF_EVEN).toPlainString();
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : " ".repeat(width - s.length()) + s;
    }
}
