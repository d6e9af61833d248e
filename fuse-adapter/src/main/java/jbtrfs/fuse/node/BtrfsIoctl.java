package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.format.Key;
import jbtrfs.format.Timespec;
import jbtrfs.fs.SubvolumeInfo;
import jbtrfs.fs.TreeSearchItem;

/**
 * The btrfs ioctls' numbers and structures (include/uapi/linux/btrfs.h), native byte order, for both ends: the node
 * layer decodes requests and encodes answers, the {@code jbtrfs subvolume|property|filesystem} commands the
 * reverse. Sizes are the structs' sizeof on 64-bit Linux; each command's _IOC_SIZE is the size FUSE passes.
 */
public final class BtrfsIoctl {
    public static final int MAGIC = 0x94;
    public static final int VOL_ARGS_SIZE = 4096;
    public static final int SEARCH_ARGS_SIZE = 4096;
    public static final int SEARCH_KEY_SIZE = 104;
    /** btrfs_ioctl_search_key.nr_items: how many items are asked for, and how many came back. */
    public static final int SEARCH_NR_ITEMS = 64;
    public static final int INO_LOOKUP_SIZE = 4096;
    public static final int SUBVOL_INFO_SIZE = 504;
    public static final int FS_INFO_SIZE = 1024;
    public static final int SPACE_ARGS_SIZE = 16;
    public static final int SPACE_INFO_SIZE = 24;
    public static final int SEARCH_ARGS_V2_SIZE = 112;
    public static final int FEATURES_SIZE = 24;
    public static final int DEV_INFO_SIZE = 4096;
    /** btrfs_ioctl_get_dev_stats: devid 0, nr_items 8 and flags 16 (in/out), values 24, padded to 1032 bytes. */
    public static final int DEV_STATS_SIZE = 1032;

    public static final int SNAP_CREATE = iow(1, VOL_ARGS_SIZE);
    public static final int SYNC = ioc(0, 8, 0);
    public static final int SUBVOL_CREATE = iow(14, VOL_ARGS_SIZE);
    public static final int SNAP_DESTROY = iow(15, VOL_ARGS_SIZE);
    public static final int TREE_SEARCH = iowr(17, SEARCH_ARGS_SIZE);
    public static final int TREE_SEARCH_V2 = iowr(17, SEARCH_ARGS_V2_SIZE);
    public static final int INO_LOOKUP = iowr(18, INO_LOOKUP_SIZE);
    public static final int DEFAULT_SUBVOL = iow(19, 8);
    public static final int SPACE_INFO = iowr(20, SPACE_ARGS_SIZE);
    public static final int SNAP_CREATE_V2 = iow(23, VOL_ARGS_SIZE);
    public static final int SUBVOL_CREATE_V2 = iow(24, VOL_ARGS_SIZE);
    public static final int SUBVOL_GETFLAGS = ior(25, 8);
    public static final int SUBVOL_SETFLAGS = iow(26, 8);
    public static final int DEV_INFO = iowr(30, DEV_INFO_SIZE);
    public static final int FS_INFO = ior(31, FS_INFO_SIZE);
    public static final int GET_DEV_STATS = iowr(52, DEV_STATS_SIZE);
    public static final int GET_FEATURES = ior(57, FEATURES_SIZE);
    public static final int GET_SUBVOL_INFO = ior(60, SUBVOL_INFO_SIZE);
    public static final int SNAP_DESTROY_V2 = iow(63, VOL_ARGS_SIZE);
    /** FITRIM, _IOWR('X', 121, struct fstrim_range): start, len (in: the range, out: bytes trimmed), minlen. */
    public static final int FSTRIM_RANGE_SIZE = 24;
    public static final int FITRIM = 3 << 30 | FSTRIM_RANGE_SIZE << 16 | 'X' << 8 | 121;

    /** btrfs_ioctl_vol_args_v2 flags. */
    public static final long SUBVOL_RDONLY = 1L << 1;
    public static final long SUBVOL_QGROUP_INHERIT = 1L << 2;
    public static final long SUBVOL_SPEC_BY_ID = 1L << 4;
    /** The names in btrfs_ioctl_vol_args (4087 + NUL) and _v2 (4039 + NUL) start at 8 and 56. */
    public static final int VOL_ARGS_NAME = 8;
    public static final int VOL_ARGS_V2_NAME = 56;
    /** btrfs_ioctl_ino_lookup_args: treeid, objectid, name[4080]. */
    public static final int INO_LOOKUP_NAME = 16;
    public static final int INO_LOOKUP_PATH_MAX = 4080;
    /**
     * btrfs_ioctl_dev_info_args: devid 0 and uuid 8 (in/out), bytes_used 24, total_bytes 32, fsid 40, path 3072
     * (1024 bytes with its NUL).
     */
    public static final int DEV_INFO_UUID = 8;
    public static final int DEV_INFO_BYTES_USED = 24;
    public static final int DEV_INFO_TOTAL_BYTES = 32;
    public static final int DEV_INFO_FSID = 40;
    public static final int DEV_INFO_PATH = 3072;
    public static final int DEV_STATS_NR_ITEMS = 8;
    public static final int DEV_STATS_FLAGS = 16;
    public static final int DEV_STATS_VALUES = 24;
    /** BTRFS_DEV_STAT_VALUES_MAX: write, read, flush, corruption and generation errors. */
    public static final int DEV_STAT_VALUES_MAX = 5;
    /** BTRFS_DEV_STATS_RESET: read the counters and zero them. */
    public static final long DEV_STATS_RESET = 1;
    /** btrfs_ioctl_fs_info_args: max_id at 0, num_devices at 8 (what a walk of DEV_INFO needs). */
    public static final int FS_INFO_MAX_ID = 0;
    public static final int FS_INFO_NUM_DEVICES = 8;
    /** btrfs_ioctl_fs_info_args flags (in/out): which of the later fields are wanted and answered. */
    public static final long FS_INFO_FLAG_CSUM_INFO = 1;
    public static final long FS_INFO_FLAG_GENERATION = 2;
    public static final long FS_INFO_FLAG_METADATA_UUID = 4;

    private BtrfsIoctl() {
    }

    private static int ioc(int dir, int nr, int size) {
        return dir << 30 | size << 16 | MAGIC << 8 | nr;
    }

    private static int iow(int nr, int size) { return ioc(1, nr, size); }

    private static int ior(int nr, int size) { return ioc(2, nr, size); }

    private static int iowr(int nr, int size) { return ioc(3, nr, size); }

    /** A zeroed native-order buffer of {@code size} bytes. */
    public static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    /** The NUL-terminated name at {@code offset}, at most {@code max} bytes before the NUL; null when unterminated. */
    public static byte[] name(ByteBuffer b, int offset, int max) {
        for (int i = 0; i <= max && offset + i < b.limit(); i++) {
            if (b.get(offset + i) == 0) {
                byte[] out = new byte[i];
                b.get(offset, out);
                return out;
            }
        }
        return null;
    }

    /** btrfs_ioctl_vol_args_v2 with {@code fd}, {@code flags} and {@code name} (what the commands send). */
    public static ByteBuffer volArgsV2(long fd, long flags, String name) {
        ByteBuffer b = buffer(VOL_ARGS_SIZE);
        b.putLong(0, fd).putLong(16, flags);
        b.put(VOL_ARGS_V2_NAME, name.getBytes(StandardCharsets.UTF_8));
        return b;
    }

    /** struct btrfs_ioctl_get_subvol_info_args of {@code i}. */
    public static ByteBuffer encodeSubvolInfo(SubvolumeInfo i) {
        ByteBuffer b = buffer(SUBVOL_INFO_SIZE);
        b.putLong(0, i.treeId());
        byte[] name = i.name().getBytes(StandardCharsets.UTF_8);
        b.put(8, name, 0, Math.min(name.length, 255));
        b.putLong(264, i.parentId()).putLong(272, i.dirId()).putLong(280, i.generation()).putLong(288, i.flags());
        b.put(296, i.uuid()).put(312, i.parentUuid()).put(328, i.receivedUuid());
        b.putLong(344, i.ctransid()).putLong(352, i.otransid()).putLong(360, i.stransid()).putLong(368, i.rtransid());
        int at = 376;
        for (Timespec t : new Timespec[] {i.ctime(), i.otime(), i.stime(), i.rtime()}) {
            b.putLong(at, t.sec()).putInt(at + 8, t.nsec());
            at += 16;
        }
        return b;
    }

    public static SubvolumeInfo decodeSubvolInfo(ByteBuffer b) {
        byte[] name = name(b, 8, 255);
        Timespec[] times = new Timespec[4];
        for (int k = 0; k < 4; k++) times[k] = new Timespec(b.getLong(376 + 16 * k), b.getInt(384 + 16 * k));
        return new SubvolumeInfo(b.getLong(0), new String(name == null ? new byte[0] : name, StandardCharsets.UTF_8),
                b.getLong(264), b.getLong(272), b.getLong(280), b.getLong(288), bytes(b, 296, 16),
                bytes(b, 312, 16), bytes(b, 328, 16), b.getLong(344), b.getLong(352), b.getLong(360),
                b.getLong(368), times[0], times[1], times[2], times[3]);
    }

    private static byte[] bytes(ByteBuffer b, int offset, int n) {
        byte[] out = new byte[n];
        b.get(offset, out);
        return out;
    }

    /**
     * struct btrfs_ioctl_search_key as the kernel reads it: tree_id 0, min/max objectid 8/16, min/max offset 24/32,
     * min/max transid 40/48, min/max type (u32) 56/60, nr_items 64.
     */
    public record SearchKey(long treeId, Key min, Key max, long minTransid, long maxTransid, int nrItems) {

        public static SearchKey read(ByteBuffer b) {
            // the kernel keeps the u32 types in a key's u8, as this does
            return new SearchKey(b.getLong(0), new Key(b.getLong(8), b.getInt(56) & 0xff, b.getLong(24)),
                    new Key(b.getLong(16), b.getInt(60) & 0xff, b.getLong(32)), b.getLong(40), b.getLong(48),
                    b.getInt(SEARCH_NR_ITEMS));
        }

        public void write(ByteBuffer b) {
            b.putLong(0, treeId).putLong(8, min.objectid()).putLong(16, max.objectid()).putLong(24, min.offset())
                    .putLong(32, max.offset()).putLong(40, minTransid).putLong(48, maxTransid)
                    .putInt(56, min.type()).putInt(60, max.type()).putInt(SEARCH_NR_ITEMS, nrItems);
        }
    }

    /** Packs search headers and items at {@code offset} of {@code b}, as copy_to_sk does. */
    public static void putSearchItems(ByteBuffer b, int offset, List<TreeSearchItem> items) {
        int at = offset;
        for (TreeSearchItem it : items) {
            b.putLong(at, it.transid()).putLong(at + 8, it.key().objectid()).putLong(at + 16, it.key().offset())
                    .putInt(at + 24, it.key().type()).putInt(at + 28, it.data().length);
            b.put(at + TreeSearchItem.HEADER_SIZE, it.data());
            at += TreeSearchItem.HEADER_SIZE + it.data().length;
        }
    }

    /** The {@code count} items packed at {@code offset} of {@code b}. */
    public static List<TreeSearchItem> searchItems(ByteBuffer b, int offset, int count) {
        List<TreeSearchItem> out = new ArrayList<>(count);
        int at = offset;
        for (int k = 0; k < count; k++) {
            int len = b.getInt(at + 28);
            out.add(new TreeSearchItem(b.getLong(at), new Key(b.getLong(at + 8), b.getInt(at + 24),
                    b.getLong(at + 16)), bytes(b, at + TreeSearchItem.HEADER_SIZE, len)));
            at += TreeSearchItem.HEADER_SIZE + len;
        }
        return out;
    }
}
