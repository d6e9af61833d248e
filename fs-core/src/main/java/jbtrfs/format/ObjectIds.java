package jbtrfs.format;

/** Well-known objectids: tree ids and special item owners (include/uapi/linux/btrfs_tree.h). */
public final class ObjectIds {
    public static final long ROOT_TREE = 1;
    public static final long EXTENT_TREE = 2;
    public static final long CHUNK_TREE = 3;
    public static final long DEV_TREE = 4;
    public static final long FS_TREE = 5;
    public static final long ROOT_TREE_DIR = 6;
    public static final long CSUM_TREE = 7;
    public static final long QUOTA_TREE = 8;
    public static final long UUID_TREE = 9;
    public static final long FREE_SPACE_TREE = 10;
    public static final long BLOCK_GROUP_TREE = 11;
    public static final long RAID_STRIPE_TREE = 12;
    /** The placeholder directory the kernel shows for a subvolume that is not there (in snapshots). */
    public static final long EMPTY_SUBVOL_DIR = 2;
    public static final long DEV_ITEMS = 1;
    public static final long ORPHAN = -5L;
    public static final long TREE_LOG = -6L;
    public static final long TREE_RELOC = -8L;
    public static final long DATA_RELOC_TREE = -9L;
    public static final long EXTENT_CSUM = -10L;
    public static final long FREE_SPACE = -11L;
    public static final long FIRST_FREE = 256;
    public static final long LAST_FREE = -256L;
    public static final long FIRST_CHUNK_TREE = 256;
    /** The root directory's objectid in every subvolume. */
    public static final long FIRST_FREE_DIR = 256;

    private ObjectIds() {
    }

    /** Whether {@code id} names a subvolume or snapshot tree (the top level 5, or 256 and up). */
    public static boolean isSubvolume(long id) {
        return id == FS_TREE || (Long.compareUnsigned(id, FIRST_FREE) >= 0 && Long.compareUnsigned(id, LAST_FREE) <= 0);
    }
}
