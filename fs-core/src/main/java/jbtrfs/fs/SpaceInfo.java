package jbtrfs.fs;

/**
 * One line of BTRFS_IOC_SPACE_INFO (struct btrfs_ioctl_space_info): the block groups of one type and profile
 * summed, or the global block reserve ({@link #GLOBAL_RSV}).
 *
 * @param flags block group type and profile bits ({@link jbtrfs.format.BlockGroupFlags})
 */
public record SpaceInfo(long flags, long totalBytes, long usedBytes) {
    /** BTRFS_SPACE_INFO_GLOBAL_RSV: the flags of the global reserve's line. */
    public static final long GLOBAL_RSV = 1L << 49;
}
