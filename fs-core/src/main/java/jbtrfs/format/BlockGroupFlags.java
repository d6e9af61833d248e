package jbtrfs.format;

/** Chunk and block group type bits (BTRFS_BLOCK_GROUP_*) and their names as btrfs-progs prints them. */
public final class BlockGroupFlags {
    public static final long DATA = 1L;
    public static final long SYSTEM = 2L;
    public static final long METADATA = 4L;
    public static final long RAID0 = 1L << 3;
    public static final long RAID1 = 1L << 4;
    public static final long DUP = 1L << 5;
    public static final long RAID10 = 1L << 6;
    public static final long RAID5 = 1L << 7;
    public static final long RAID6 = 1L << 8;
    public static final long RAID1C3 = 1L << 9;
    public static final long RAID1C4 = 1L << 10;
    public static final long TYPE_MASK = DATA | SYSTEM | METADATA;
    public static final long PROFILE_MASK = RAID0 | RAID1 | DUP | RAID10 | RAID5 | RAID6 | RAID1C3 | RAID1C4;

    private BlockGroupFlags() {
    }

    /** "DATA", "METADATA", "SYSTEM" or "DATA+METADATA" (mixed). */
    public static String typeName(long flags) {
        long t = flags & TYPE_MASK;
        if (t == (DATA | METADATA)) return "DATA+METADATA";
        if (t == DATA) return "DATA";
        if (t == METADATA) return "METADATA";
        if (t == SYSTEM) return "SYSTEM";
        return "unknown(0x" + Long.toHexString(t) + ")";
    }

    /** "single", "DUP", "RAID1", ... */
    public static String profileName(long flags) {
        long p = flags & PROFILE_MASK;
        if (p == 0) return "single";
        if (p == DUP) return "DUP";
        if (p == RAID0) return "RAID0";
        if (p == RAID1) return "RAID1";
        if (p == RAID10) return "RAID10";
        if (p == RAID5) return "RAID5";
        if (p == RAID6) return "RAID6";
        if (p == RAID1C3) return "RAID1C3";
        if (p == RAID1C4) return "RAID1C4";
        return "unknown(0x" + Long.toHexString(p) + ")";
    }
}
