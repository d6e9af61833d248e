package jbtrfs.format;

import java.util.ArrayList;
import java.util.List;

/** Superblock feature bits (include/uapi/linux/btrfs.h) and their names as btrfs-progs prints them. */
public final class Features {
    public static final long COMPAT_RO_FREE_SPACE_TREE = 1L << 0;
    public static final long COMPAT_RO_FREE_SPACE_TREE_VALID = 1L << 1;
    public static final long COMPAT_RO_VERITY = 1L << 2;
    public static final long COMPAT_RO_BLOCK_GROUP_TREE = 1L << 3;

    public static final long INCOMPAT_MIXED_BACKREF = 1L << 0;
    public static final long INCOMPAT_DEFAULT_SUBVOL = 1L << 1;
    public static final long INCOMPAT_MIXED_GROUPS = 1L << 2;
    public static final long INCOMPAT_COMPRESS_LZO = 1L << 3;
    public static final long INCOMPAT_COMPRESS_ZSTD = 1L << 4;
    public static final long INCOMPAT_BIG_METADATA = 1L << 5;
    public static final long INCOMPAT_EXTENDED_IREF = 1L << 6;
    public static final long INCOMPAT_RAID56 = 1L << 7;
    public static final long INCOMPAT_SKINNY_METADATA = 1L << 8;
    public static final long INCOMPAT_NO_HOLES = 1L << 9;
    public static final long INCOMPAT_METADATA_UUID = 1L << 10;
    public static final long INCOMPAT_RAID1C34 = 1L << 11;
    public static final long INCOMPAT_ZONED = 1L << 12;
    public static final long INCOMPAT_EXTENT_TREE_V2 = 1L << 13;
    public static final long INCOMPAT_RAID_STRIPE_TREE = 1L << 14;
    public static final long INCOMPAT_SIMPLE_QUOTA = 1L << 16;

    /** Incompat bits the read path understands; any other bit refuses the mount. */
    public static final long INCOMPAT_READ_SUPPORTED = INCOMPAT_MIXED_BACKREF | INCOMPAT_DEFAULT_SUBVOL
            | INCOMPAT_MIXED_GROUPS | INCOMPAT_COMPRESS_LZO | INCOMPAT_COMPRESS_ZSTD | INCOMPAT_BIG_METADATA
            | INCOMPAT_EXTENDED_IREF | INCOMPAT_SKINNY_METADATA | INCOMPAT_NO_HOLES | INCOMPAT_METADATA_UUID
            | INCOMPAT_SIMPLE_QUOTA | INCOMPAT_RAID56 | INCOMPAT_RAID1C34;

    private static final String[] COMPAT_RO_NAMES = {"free_space_tree", "free_space_tree_valid", "verity",
            "block_group_tree"};
    private static final String[] INCOMPAT_NAMES = {"mixed_backref", "default_subvol", "mixed_groups",
            "compress_lzo", "compress_zstd", "big_metadata", "extended_iref", "raid56", "skinny_metadata", "no_holes",
            "metadata_uuid", "raid1c34", "zoned", "extent_tree_v2", "raid_stripe_tree", null, "simple_quota"};

    private Features() {
    }

    /** Names of the compat_ro bits set in {@code flags}. */
    public static List<String> compatRoNames(long flags) { return names(flags, COMPAT_RO_NAMES); }

    /** Names of the incompat bits set in {@code flags}. */
    public static List<String> incompatNames(long flags) { return names(flags, INCOMPAT_NAMES); }

    /** Names of compat bits (none are defined). */
    public static List<String> compatNames(long flags) { return names(flags, new String[0]); }

    private static List<String> names(long flags, String[] table) {
        List<String> out = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((flags & (1L << bit)) == 0) continue;
            String n = bit < table.length ? table[bit] : null;
            out.add(n != null ? n : "unknown(0x" + Long.toHexString(1L << bit) + ")");
        }
        return out;
    }
}
