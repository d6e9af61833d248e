package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.fs.FsInfo;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.SpaceInfo;
import jbtrfs.fs.TreeSearchItem;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * The btrfs ioctls that only read: TREE_SEARCH (v1: the items inside the struct; v2 and SPACE_INFO: the array past
 * the struct, which FUSE does not carry, written to the caller's memory), INO_LOOKUP, FS_INFO, DEV_INFO,
 * GET_DEV_STATS and GET_FEATURES.
 * Root only where ioctl.c asks CAP_SYS_ADMIN.
 */
final class BtrfsQueries {
    /** search_ioctl never hands out more than 16 MiB at once. */
    private static final int SEARCH_V2_LIMIT = 16 << 20;
    private static final int SEARCH_V1_BUF = BtrfsIoctl.SEARCH_ARGS_SIZE - BtrfsIoctl.SEARCH_KEY_SIZE;
    /** btrfs_ioctl_fs_info_args.flags, and the ones the kernel knows. */
    private static final int FS_INFO_FLAGS = 48;
    private static final long FS_INFO_ALL = BtrfsIoctl.FS_INFO_FLAG_CSUM_INFO | BtrfsIoctl.FS_INFO_FLAG_GENERATION
            | BtrfsIoctl.FS_INFO_FLAG_METADATA_UUID;

    /** BTRFS_DEV_STATS_OBJECTID: the objectid of the device tree's DEV_STATS (PERSISTENT_ITEM) items. */
    private static final long DEV_STATS_OBJECTID = 0;

    private final FsOperations ops;
    private volatile Path device;

    BtrfsQueries(Nodes nodes) {
        this.ops = nodes.ops;
    }

    /** The image or block device behind the mount (DEV_INFO's path); none until told. */
    void deviceAt(Path device) {
        this.device = device;
    }

    void ioctl(FuseRequest r, InodeId id, int cmd, long arg, int inSize, int outSize) throws FsException {
        InArgs in = r.in();
        if (cmd == BtrfsIoctl.TREE_SEARCH) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.SEARCH_ARGS_SIZE);
            BtrfsIoctl.SearchKey key = BtrfsIoctl.SearchKey.read(a);
            List<TreeSearchItem> items = search(r, id, key, SEARCH_V1_BUF);
            ByteBuffer b = IoctlRequests.reply(r, outSize, BtrfsIoctl.SEARCH_ARGS_SIZE);
            ByteBuffer out = BtrfsIoctl.buffer(BtrfsIoctl.SEARCH_ARGS_SIZE);
            out.put(0, a, 0, BtrfsIoctl.SEARCH_KEY_SIZE).putInt(BtrfsIoctl.SEARCH_NR_ITEMS, items.size());
            BtrfsIoctl.putSearchItems(out, BtrfsIoctl.SEARCH_KEY_SIZE, items);
            r.reply(b.put(out));
        } else if (cmd == BtrfsIoctl.TREE_SEARCH_V2) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.SEARCH_ARGS_V2_SIZE);
            BtrfsIoctl.SearchKey key = BtrfsIoctl.SearchKey.read(a);
            long bufSize = a.getLong(BtrfsIoctl.SEARCH_KEY_SIZE);
            int limit = (int) Math.min(Math.max(bufSize, 0), SEARCH_V2_LIMIT);
            if (Long.compareUnsigned(bufSize, TreeSearchItem.HEADER_SIZE) < 0) {
                throw new ReplyError(ReplyError.EOVERFLOW);
            }
            List<TreeSearchItem> items = search(r, id, key, limit);
            ByteBuffer packed = BtrfsIoctl.buffer(items.stream().mapToInt(i -> TreeSearchItem.HEADER_SIZE
                    + i.data().length).sum());
            BtrfsIoctl.putSearchItems(packed, 0, items);
            Callers.copyToCaller(r, arg + BtrfsIoctl.SEARCH_ARGS_V2_SIZE, packed);
            ByteBuffer b = IoctlRequests.reply(r, outSize, BtrfsIoctl.SEARCH_ARGS_V2_SIZE);
            ByteBuffer out = BtrfsIoctl.buffer(BtrfsIoctl.SEARCH_ARGS_V2_SIZE);
            out.put(0, a, 0, BtrfsIoctl.SEARCH_ARGS_V2_SIZE).putInt(BtrfsIoctl.SEARCH_NR_ITEMS, items.size());
            r.reply(b.put(out));
        } else if (cmd == BtrfsIoctl.INO_LOOKUP) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.INO_LOOKUP_SIZE);
            ByteBuffer out = inoLookup(r, id, a.getLong(0), a.getLong(8));
            r.reply(IoctlRequests.reply(r, outSize, BtrfsIoctl.INO_LOOKUP_SIZE).put(out));
        } else if (cmd == BtrfsIoctl.SPACE_INFO) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.SPACE_ARGS_SIZE);
            long slots = a.getLong(0);
            List<SpaceInfo> spaces = ops.spaceInfo();
            int n = slots == 0 ? 0 : (int) Math.min(spaces.size(), Math.max(0, slots));
            if (n > 0) {
                ByteBuffer arr = BtrfsIoctl.buffer(n * BtrfsIoctl.SPACE_INFO_SIZE);
                for (SpaceInfo s : spaces.subList(0, n)) {
                    arr.putLong(s.flags()).putLong(s.totalBytes()).putLong(s.usedBytes());
                }
                Callers.copyToCaller(r, arg + BtrfsIoctl.SPACE_ARGS_SIZE, arr.flip());
            }
            ByteBuffer b = IoctlRequests.reply(r, outSize, BtrfsIoctl.SPACE_ARGS_SIZE);
            r.reply(b.putLong(slots).putLong(slots == 0 ? spaces.size() : n));
        } else if (cmd == BtrfsIoctl.FS_INFO) {
            // the kernel reads the flags asked for from the caller's struct although the command is _IOR
            ByteBuffer asked = Callers.copyFromCaller(r, arg + FS_INFO_FLAGS, 8);
            long flags = asked == null ? FS_INFO_ALL : asked.getLong(0) & FS_INFO_ALL;
            r.reply(IoctlRequests.reply(r, outSize, BtrfsIoctl.FS_INFO_SIZE).put(fsInfo(ops.superBlock(), flags,
                    maxDevid())));
        } else if (cmd == BtrfsIoctl.DEV_INFO) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.DEV_INFO_SIZE);
            // an all-zero uuid asks by devid alone (btrfs_is_empty_uuid)
            byte[] uuid = bytes(a, BtrfsIoctl.DEV_INFO_UUID, 16);
            ByteBuffer out = devInfo(a.getLong(0), Arrays.equals(uuid, new byte[16]) ? null : uuid);
            r.reply(IoctlRequests.reply(r, outSize, BtrfsIoctl.DEV_INFO_SIZE).put(out));
        } else if (cmd == BtrfsIoctl.GET_DEV_STATS) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.DEV_STATS_SIZE);
            r.reply(IoctlRequests.reply(r, outSize, BtrfsIoctl.DEV_STATS_SIZE).put(devStats(r, a)));
        } else if (cmd == BtrfsIoctl.GET_FEATURES) {
            SuperBlock sb = ops.superBlock();
            ByteBuffer b = IoctlRequests.reply(r, outSize, BtrfsIoctl.FEATURES_SIZE);
            r.reply(b.putLong(sb.compatFlags()).putLong(sb.compatRoFlags()).putLong(sb.incompatFlags()));
        } else {
            throw new ReplyError(ReplyError.ENOTTY);
        }
    }

    /**
     * search_ioctl: tree 0 is the subvolume of the inode asked on; EOVERFLOW when not even the first item fits the
     * buffer (btrfs-progs then asks with a bigger one).
     */
    private List<TreeSearchItem> search(FuseRequest r, InodeId id, BtrfsIoctl.SearchKey key, int bufSize)
            throws FsException {
        if (r.uid() != 0) throw new ReplyError(ReplyError.EPERM);
        long tree = key.treeId() == 0 ? id.root() : key.treeId();
        int max = key.nrItems() < 0 ? Integer.MAX_VALUE : key.nrItems(); // a u32: -1 asks for everything
        List<TreeSearchItem> items = ops.treeSearch(tree, key.min(), key.max(), key.minTransid(), key.maxTransid(),
                max, bufSize);
        if (items.isEmpty() && max > 0 && !ops.treeSearch(tree, key.min(), key.max(), key.minTransid(),
                key.maxTransid(), 1, Integer.MAX_VALUE).isEmpty()) {
            throw new ReplyError(ReplyError.EOVERFLOW);
        }
        return items;
    }

    /**
     * btrfs_ioctl_ino_lookup: tree 0 is the inode's own subvolume; the path of directory {@code objectid} from its
     * subvolume's root, each name followed by '/', found by walking its INODE_REFs up (root only, except for the
     * subvolume root itself, whose path is empty).
     */
    private ByteBuffer inoLookup(FuseRequest r, InodeId id, long treeId, long objectid) throws FsException {
        long tree = treeId == 0 ? id.root() : treeId;
        ByteBuffer out = BtrfsIoctl.buffer(BtrfsIoctl.INO_LOOKUP_SIZE);
        out.putLong(0, tree).putLong(8, objectid);
        if (objectid == ObjectIds.FIRST_FREE_DIR) return out;
        if (r.uid() != 0) throw new ReplyError(ReplyError.EPERM);
        byte[] path = new byte[0];
        long dir = objectid;
        while (dir != ObjectIds.FIRST_FREE_DIR) {
            List<TreeSearchItem> refs = ops.treeSearch(tree, Key.first(dir, KeyType.INODE_REF),
                    Key.last(dir, KeyType.INODE_REF), 0, -1L, 1, Integer.MAX_VALUE);
            if (refs.isEmpty()) throw new ReplyError(ReplyError.ENOENT);
            ByteBuffer ref = ByteBuffer.wrap(refs.get(0).data()).order(ByteOrder.LITTLE_ENDIAN);
            int len = Short.toUnsignedInt(ref.getShort(8));
            byte[] name = new byte[len + 1];
            ref.get(10, name, 0, len);
            name[len] = '/';
            byte[] joined = new byte[name.length + path.length];
            System.arraycopy(name, 0, joined, 0, name.length);
            System.arraycopy(path, 0, joined, name.length, path.length);
            path = joined;
            if (path.length > BtrfsIoctl.INO_LOOKUP_PATH_MAX - 1) throw new ReplyError(ReplyError.ENAMETOOLONG);
            dir = refs.get(0).key().offset();
        }
        out.put(BtrfsIoctl.INO_LOOKUP_NAME, path);
        return out;
    }

    /** The largest devid the chunk tree's DEV_ITEMs name (FS_INFO's max_id: a set's members are 1..max_id). */
    private long maxDevid() throws FsException {
        long max = ops.superBlock().devItem().devid();
        for (TreeSearchItem it : ops.treeSearch(ObjectIds.CHUNK_TREE, Key.first(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM),
                Key.last(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM), 0, -1L, Integer.MAX_VALUE, Integer.MAX_VALUE)) {
            max = Math.max(max, it.key().offset());
        }
        return max;
    }

    /**
     * btrfs_ioctl_dev_info: the member {@code devid} (and {@code uuid}, when one is given), else ENODEV; bytes_used
     * is as allocated now (chunks allocated since the last commit count, as the kernel's device does); the path is
     * the member's image or device, empty for one missing from a degraded mount.
     */
    private ByteBuffer devInfo(long devid, byte[] uuid) throws FsException {
        FsInfo.Device dev = null;
        for (FsInfo.Device d : ops.devices()) {
            if (d.devid() == devid) dev = d;
        }
        byte[] devUuid = dev == null ? null : HexFormat.of().parseHex(dev.uuid().replace("-", ""));
        if (dev == null || (uuid != null && !Arrays.equals(uuid, devUuid))) {
            throw new ReplyError(ReplyError.ENODEV);
        }
        ByteBuffer b = BtrfsIoctl.buffer(BtrfsIoctl.DEV_INFO_SIZE);
        b.putLong(0, devid).put(BtrfsIoctl.DEV_INFO_UUID, devUuid)
                .putLong(BtrfsIoctl.DEV_INFO_BYTES_USED, dev.bytesUsed())
                .putLong(BtrfsIoctl.DEV_INFO_TOTAL_BYTES, dev.totalBytes())
                .put(BtrfsIoctl.DEV_INFO_FSID, ops.superBlock().fsid());
        // the device mounted from is named as the mount was told it; the others as they were given, made absolute
        Path image;
        if (dev.path() == null) image = null;
        else if (devid == ops.superBlock().devItem().devid() || dev.path().isEmpty()) image = device;
        else image = Path.of(dev.path()).toAbsolutePath();
        if (image != null) {
            byte[] path = image.toString().getBytes(StandardCharsets.UTF_8);
            b.put(BtrfsIoctl.DEV_INFO_PATH, path, 0, Math.min(path.length, BtrfsIoctl.DEV_INFO_SIZE
                    - BtrfsIoctl.DEV_INFO_PATH - 1));
        }
        return b;
    }

    /**
     * btrfs_get_dev_stats: member {@code devid}'s error counters as its DEV_STATS item in the device tree holds them
     * (the last commit's; zeros without one), ENODEV for no such member; as many as nr_items asks, nr_items cut to
     * the five there are. Resetting them (root only) would rewrite that item, which is not done: EOPNOTSUPP.
     */
    private ByteBuffer devStats(FuseRequest r, ByteBuffer a) throws FsException {
        long devid = a.getLong(0);
        long asked = a.getLong(BtrfsIoctl.DEV_STATS_NR_ITEMS);
        if ((a.getLong(BtrfsIoctl.DEV_STATS_FLAGS) & BtrfsIoctl.DEV_STATS_RESET) != 0) {
            throw new ReplyError(r.uid() != 0 ? ReplyError.EPERM : ReplyError.EOPNOTSUPP);
        }
        if (ops.devices().stream().noneMatch(d -> d.devid() == devid)) throw new ReplyError(ReplyError.ENODEV);
        Key key = new Key(DEV_STATS_OBJECTID, KeyType.PERSISTENT_ITEM, devid);
        List<TreeSearchItem> found = ops.treeSearch(ObjectIds.DEV_TREE, key, key, 0, -1L, 1, Integer.MAX_VALUE);
        ByteBuffer item = found.isEmpty() ? ByteBuffer.allocate(0)
                : ByteBuffer.wrap(found.get(0).data()).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = BtrfsIoctl.buffer(BtrfsIoctl.DEV_STATS_SIZE);
        out.put(0, a, 0, BtrfsIoctl.DEV_STATS_SIZE);
        for (int i = 0; i < BtrfsIoctl.DEV_STAT_VALUES_MAX && Long.compareUnsigned(asked, i) > 0; i++) {
            // an item shorter than the counters the kernel knows reads as zeros past its end
            long value = item.capacity() >= (i + 1) * 8 ? item.getLong(i * 8) : 0;
            out.putLong(BtrfsIoctl.DEV_STATS_VALUES + i * 8, value);
        }
        if (Long.compareUnsigned(asked, BtrfsIoctl.DEV_STAT_VALUES_MAX) > 0) {
            out.putLong(BtrfsIoctl.DEV_STATS_NR_ITEMS, BtrfsIoctl.DEV_STAT_VALUES_MAX);
        }
        return out;
    }

    private static byte[] bytes(ByteBuffer b, int offset, int n) {
        byte[] out = new byte[n];
        b.get(offset, out);
        return out;
    }

    /**
     * btrfs_ioctl_fs_info_args: the optional parts answered as {@code flags} asks (the kernel's flags in/out);
     * clone_alignment is the sector size.
     */
    static ByteBuffer fsInfo(SuperBlock sb, long flags, long maxDevid) {
        ByteBuffer b = BtrfsIoctl.buffer(BtrfsIoctl.FS_INFO_SIZE);
        b.putLong(0, maxDevid).putLong(8, sb.numDevices()).put(16, sb.fsid())
                .putInt(32, sb.nodesize()).putInt(36, sb.sectorsize()).putInt(40, sb.sectorsize())
                .putLong(FS_INFO_FLAGS, flags);
        if ((flags & BtrfsIoctl.FS_INFO_FLAG_CSUM_INFO) != 0) {
            b.putShort(44, (short) sb.csumType()).putShort(46, (short) ChecksumType.fromCode(sb.csumType()).size());
        }
        if ((flags & BtrfsIoctl.FS_INFO_FLAG_GENERATION) != 0) b.putLong(56, sb.generation());
        if ((flags & BtrfsIoctl.FS_INFO_FLAG_METADATA_UUID) != 0) b.put(64, sb.treeBlockFsid());
        return b;
    }
}
