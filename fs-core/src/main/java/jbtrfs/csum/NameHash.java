package jbtrfs.csum;

/**
 * The hashes Btrfs puts into key offsets, each a raw {@link Crc32c} as btrfs-progs computes it
 * ({@code btrfs_name_hash}, {@code btrfs_extref_hash} in ctree.h, {@code hash_extent_data_ref} in extent-tree.c).
 */
public final class NameHash {
    /** Seed of the directory item / xattr name hash: {@code (u32)~1}. */
    private static final int NAME_SEED = 0xFFFFFFFE;

    private NameHash() {}

    /** Key offset of a DIR_ITEM or XATTR_ITEM for {@code name} (an unsigned 32-bit value). */
    public static long of(byte[] name) {
        return of(name, 0, name.length);
    }

    /** Key offset of a DIR_ITEM or XATTR_ITEM for {@code length} name bytes from {@code offset}. */
    public static long of(byte[] name, int offset, int length) {
        return Integer.toUnsignedLong(Crc32c.update(NAME_SEED, name, offset, length));
    }

    /**
     * Key offset of an INODE_EXTREF: the name hashed with the parent directory's objectid as the seed. The seed
     * parameter of crc32c is a u32, so only the low 32 bits of the objectid count.
     */
    public static long extref(long parentObjectid, byte[] name) {
        return Integer.toUnsignedLong(Crc32c.update((int) parentObjectid, name, 0, name.length));
    }

    /**
     * Key offset of a keyed EXTENT_DATA_REF (and the order of inline ones): {@code (crc(~0, le64 root) << 31) ^
     * crc(crc(~0, le64 objectid), le64 offset)}. The shift is 31, not 32, so bit 31 of both halves overlap.
     */
    public static long extentDataRef(long root, long objectid, long offset) {
        long high = Integer.toUnsignedLong(Crc32c.updateLe64(~0, root));
        long low = Integer.toUnsignedLong(Crc32c.updateLe64(Crc32c.updateLe64(~0, objectid), offset));
        return (high << 31) ^ low;
    }
}
