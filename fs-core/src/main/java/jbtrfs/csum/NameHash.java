package jbtrfs.csum;

/** The hashes Btrfs puts in key offsets (btrfs_name_hash, btrfs_extref_hash, hash_extent_data_ref). */
public final class NameHash {
    private NameHash() {
    }

    /** DIR_ITEM and XATTR_ITEM key offset: raw crc32c of the name seeded with ~1. */
    public static long of(byte[] name) {
        return Integer.toUnsignedLong(Crc32c.update(0xFFFFFFFE, name));
    }

    /** INODE_EXTREF key offset: raw crc32c of the name seeded with the parent directory's objectid. */
    public static long extref(long parentObjectid, byte[] name) {
        return Integer.toUnsignedLong(Crc32c.update((int) parentObjectid, name));
    }

    /**
     * EXTENT_DATA_REF key offset: (crc(~0, root) << 31) ^ crc(crc(~0, objectid), offset), each over the
     * little-endian u64 and without inversion.
     */
    public static long extentDataRef(long root, long objectid, long offset) {
        long high = Integer.toUnsignedLong(Crc32c.updateLong(~0, root));
        long low = Integer.toUnsignedLong(Crc32c.updateLong(Crc32c.updateLong(~0, objectid), offset));
        return (high << 31) ^ low;
    }
}
