package jbtrfs.format;

/**
 * btrfs_header (101 bytes) at the start of every tree block: csum 0, fsid 32, bytenr 48, flags 56,
 * chunk_tree_uuid 64, generation 80, owner 88, nritems 96, level 100. Read in place by {@code TreeBlock}.
 */
public final class Header {
    public static final int SIZE = 101;
    public static final int OFFSET_CSUM = 0;
    public static final int OFFSET_FSID = 32;
    public static final int OFFSET_BYTENR = 48;
    public static final int OFFSET_FLAGS = 56;
    public static final int OFFSET_CHUNK_TREE_UUID = 64;
    public static final int OFFSET_GENERATION = 80;
    public static final int OFFSET_OWNER = 88;
    public static final int OFFSET_NRITEMS = 96;
    public static final int OFFSET_LEVEL = 100;
    /** The checksum covers the block from here to its end. */
    public static final int CSUM_START = 32;
    public static final long FLAG_WRITTEN = 1L;
    public static final long FLAG_RELOC = 2L;

    private Header() {
    }
}
