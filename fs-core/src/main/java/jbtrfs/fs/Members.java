package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.DeviceOptions;
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
    private static final Logger LOG = LoggerFactory.getLogger(Members.class);

    /** One device given: what names it in messages, the device, its own superblock. */
    record Given(String name, BlockDevice device, SuperBlock superBlock) {
    }

    private final Map<Long, Given> byDevid;
    private final boolean readOnly;
    private final List<FsInfo.Device> listed = new ArrayList<>();

    private Members(Map<Long, Given> byDevid, boolean readOnly) {
        this.byDevid = byDevid;
        this.readOnly = readOnly;
    }

    /**
     * Opens the devices at {@code paths}, each with its image lock (shared to read) and its own superblock; when one
     * fails, those opened before are closed.
     */
    static List<Given> open(List<Path> paths, DeviceOptions options) throws IOException {
        List<Given> out = new ArrayList<>();
        try {
            for (Path path : paths) {
                BlockDevice device = openLocked(path, options, "device");
                try {
                    out.add(new Given(path.toString(), device, SuperBlocks.readMember(device, path.toString())));
                } catch (IOException | RuntimeException e) {
                    device.close();
                    throw e;
                }
            }
            return out;
        } catch (IOException | RuntimeException e) {
            closeAll(out);
            throw e;
        }
    }

    /** Opens {@code path} with its image lock (exclusive to write, shared to read), held until the device closes. */
    static BlockDevice openLocked(Path path, DeviceOptions options, String what) throws IOException {
        long devid = devidOf(path);
        try {
            return BlockDevice.openLocked(path, devid > 0 ? options.withDevid(devid) : options);
        } catch (NoSuchFileException e) {
            throw new FsException(Errno.EINVAL, what + " not found: " + path);
        }
    }

    /**
     * The devid the primary superblock at {@code path} names, read before the device opens so that its meters carry
     * it; -1 when it cannot be read (the open then says why, or the superblock checks do).
     */
    private static long devidOf(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                if (channel.read(b, SuperBlock.MIRROR_OFFSETS[0] + b.position()) < 0) return -1;
            }
            return SuperBlock.decode(b.flip()).devItem().devid();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Closes the devices of {@code given}, after a failed open (what their closes say, the open already said). */
    static void closeAll(List<Given> given) {
        for (Given g : given) {
            try {
                g.device().close();
            } catch (IOException e) {
                LOG.debug("closing {} after a failed open: {}", g.name(), e.getMessage());
            }
        }
    }

    /**
     * Matches {@code first} (the device the filesystem opened from, whose superblock is {@code sb}) and
     * {@code others} by fsid and devid; a device of another filesystem or a second device with one devid is refused
     * in one line. A read-write open also refuses a member whose superblock is of another generation than the
     * device opened from: it missed commits (or the set did), and writing would mix two states of the set.
     */
    static Members match(SuperBlock sb, Given first, List<Given> others, boolean readOnly) throws FsException {
        List<Given> given = new ArrayList<>();
        given.add(first);
        given.addAll(others);
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
        if (!readOnly) {
            for (Given g : given) {
                long generation = g.superBlock().generation();
                if (generation != sb.generation()) {
                    throw new FsException(Errno.EINVAL, g.name() + " (devid " + g.superBlock().devItem().devid()
                            + ") is at generation " + generation + ", " + first.name() + " at " + sb.generation()
                            + ": the members of the set do not agree; mount it read-only (-o ro)");
                }
            }
        }
        return new Members(byDevid, readOnly);
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
    void checkDevItems(SuperBlock sb, TreeBlockReader reader, ChunkMap chunks, boolean degraded) throws IOException {
        BTree chunkTree = new BTree(reader, ObjectIds.CHUNK_TREE, sb.chunkRoot(), sb.chunkRootLevel(),
                sb.chunkRootGeneration());
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
            if (g == null) {
                LOG.warn("degraded: device devid {} (uuid {}) is missing; what it held is read from the others",
                        item.devid(), Uuids.format(item.uuid()));
            }
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
            // writes into a full stripe with a member gone would need its data rebuilt first: not built
            if (lost > 0 && !readOnly && (c.parity())) {
                throw new FsException(Errno.EINVAL, "read-write degraded mounts of RAID5/6 chunks are not supported"
                        + " (the " + BlockGroupFlags.profileName(c.item().type()) + " chunk at logical "
                        + Long.toUnsignedString(c.logical()) + " lost a stripe): mount with -o degraded,ro");
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
