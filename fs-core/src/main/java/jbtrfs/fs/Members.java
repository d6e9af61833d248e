package jbtrfs.fs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.device.BlockDevice;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.DevItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.format.Uuids;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.ChunkMap;

/**
 * The devices of a filesystem (≈ btrfs_fs_devices): the ones given, matched by fsid and devid from their own
 * superblocks in any order, against the devices the chunk tree's DEV_ITEMs name. A device missing is refused unless
 * the mount is degraded and every chunk keeps enough stripes (the kernel's btrfs_check_rw_degradable rule).
 */
final class Members {
    /** One device given: what names it in messages, the device, its own superblock. */
    record Given(String name, BlockDevice device, SuperBlock superBlock) {
    }

    private final Map<Long, Given> byDevid;
    private final List<FsInfo.Device> listed = new ArrayList<>();

    private Members(Map<Long, Given> byDevid) {
        this.byDevid = byDevid;
    }

    /**
     * Matches {@code given} (the first is the device the filesystem opened from, whose superblock is {@code sb}) by
     * fsid and devid; a device of another filesystem or a second device with one devid is refused in one line.
     */
    static Members match(SuperBlock sb, List<Given> given) throws FsException {
        Map<Long, Given> byDevid = new TreeMap<>();
        for (Given g : given) {
            SuperBlock own = g.superBlock();
            if (!Arrays.equals(own.fsid(), sb.fsid())) {
                throw new FsException(Errno.EINVAL, g.name() + " is a device of another filesystem (fsid "
                        + Uuids.format(own.fsid()) + ", this one is " + Uuids.format(sb.fsid()) + ")");
            }
            long devid = own.devItem().devid();
            Given before = byDevid.putIfAbsent(devid, g);
            if (before != null) {
                throw new FsException(Errno.EINVAL, g.name() + " and " + before.name() + " are both devid " + devid
                        + " (uuid " + Uuids.format(own.devItem().uuid()) + "): give each device once");
            }
            if (Long.compareUnsigned(own.devItem().totalBytes(), g.device().size()) > 0) {
                throw new FsException(Errno.EINVAL, g.name() + " is truncated: devid " + devid + " needs "
                        + Long.toUnsignedString(own.devItem().totalBytes()) + " bytes, the image has "
                        + g.device().size());
            }
        }
        return new Members(byDevid);
    }

    /** The devices present, by devid. */
    Map<Long, BlockDevice> devices() {
        Map<Long, BlockDevice> out = new LinkedHashMap<>();
        byDevid.forEach((devid, g) -> out.put(devid, g.device()));
        return out;
    }

    /**
     * Refuses a set that lacks a device the sys_chunk_array's stripes name (before the chunk tree can be read), unless
     * degraded and every SYSTEM chunk still readable.
     */
    void checkBootstrap(ChunkMap bootstrap, boolean degraded) throws FsException {
        Map<Long, byte[]> named = new TreeMap<>();
        for (Chunk c : bootstrap.chunks()) {
            for (Stripe s : c.item().stripes()) named.putIfAbsent(s.devid(), s.devUuid());
        }
        check(named, bootstrap, degraded);
    }

    /**
     * Checks the set against the chunk tree's DEV_ITEMs: every device given must be one of them with its uuid; one
     * missing is refused unless degraded and every chunk keeps enough stripes. Lists the members for {@link #list}.
     */
    void checkDevItems(BTree chunkTree, ChunkMap chunks, boolean degraded) throws IOException {
        Map<Long, byte[]> named = new TreeMap<>();
        Map<Long, DevItem> items = new TreeMap<>();
        Cursor c = chunkTree.seek(Key.first(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM));
        while (c.valid() && c.key().objectid() == ObjectIds.DEV_ITEMS && c.key().type() == KeyType.DEV_ITEM) {
            DevItem item = c.decode(DevItem.SIZE, DevItem::read);
            named.put(item.devid(), item.uuid());
            items.put(item.devid(), item);
            c.next();
        }
        for (Map.Entry<Long, Given> e : byDevid.entrySet()) {
            byte[] uuid = named.get(e.getKey());
            byte[] own = e.getValue().superBlock().devItem().uuid();
            if (uuid == null || !Arrays.equals(uuid, own)) {
                throw new FsException(Errno.EINVAL, e.getValue().name() + " (devid " + e.getKey() + ", uuid "
                        + Uuids.format(own) + ") is not a member of this filesystem: its chunk tree names "
                        + (uuid == null ? "no devid " + e.getKey() : "uuid " + Uuids.format(uuid) + " as devid "
                        + e.getKey()));
            }
        }
        check(named, chunks, degraded);
        for (DevItem item : items.values()) {
            Given g = byDevid.get(item.devid());
            listed.add(new FsInfo.Device(item.devid(), Uuids.format(item.uuid()), item.totalBytes(), item.bytesUsed(),
                    g == null ? null : g.name()));
        }
    }

    /** The members the chunk tree names, by devid, each with the device that serves it (null name: missing). */
    List<FsInfo.Device> list() {
        return List.copyOf(listed);
    }

    /** Closes every device but the first given (which the filesystem closes as it always did). */
    void closeOthers(BlockDevice first) throws IOException {
        IOException failed = null;
        for (Given g : byDevid.values()) {
            if (g.device() == first) continue;
            try {
                g.device().close();
            } catch (IOException e) {
                if (failed == null) failed = e;
            }
        }
        if (failed != null) throw failed;
    }

    private void check(Map<Long, byte[]> named, ChunkMap chunks, boolean degraded) throws FsException {
        Map<Long, byte[]> missing = new TreeMap<>(named);
        missing.keySet().removeAll(byDevid.keySet());
        if (missing.isEmpty()) return;
        if (!degraded) {
            Map.Entry<Long, byte[]> first = missing.entrySet().iterator().next();
            throw new FsException(Errno.EINVAL, "device devid " + first.getKey() + " (uuid "
                    + Uuids.format(first.getValue()) + ") is missing" + (missing.size() > 1 ? " (and "
                    + (missing.size() - 1) + " more)" : "") + ": name it with -o device=PATH, or mount with -o degraded");
        }
        for (Chunk c : chunks.chunks()) {
            int lost = 0;
            for (Stripe s : c.item().stripes()) {
                if (missing.containsKey(s.devid())) lost++;
            }
            int tolerated = toleratedFailures(c.item().type());
            if (lost > tolerated) {
                throw new FsException(Errno.EINVAL, "too many devices missing even for -o degraded: the "
                        + BlockGroupFlags.profileName(c.item().type()) + " chunk at logical "
                        + Long.toUnsignedString(c.logical()) + " lost " + lost + " of " + c.item().numStripes()
                        + " stripes and survives " + tolerated + " (missing devids " + missing.keySet() + ")");
            }
        }
    }

    /** How many devices a chunk of this profile can lose and still be read (the kernel's tolerated_failures). */
    static int toleratedFailures(long type) {
        long p = type & BlockGroupFlags.PROFILE_MASK;
        if (p == BlockGroupFlags.RAID1 || p == BlockGroupFlags.RAID10 || p == BlockGroupFlags.RAID5) return 1;
        if (p == BlockGroupFlags.RAID1C3 || p == BlockGroupFlags.RAID6) return 2;
        if (p == BlockGroupFlags.RAID1C4) return 3;
        return 0;
    }
}
