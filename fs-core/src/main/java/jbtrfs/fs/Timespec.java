package jbtrfs.fs;

/** A btrfs_timespec: seconds since the epoch and nanoseconds. */
public record Timespec(long sec, int nsec) {
    /**
     * utimens' UTIME_NOW: the time of the change. Unlike an explicit time it may be set on an append-only inode,
     * as the VFS lets a plain touch through.
     */
    public static final Timespec NOW = new Timespec(Long.MIN_VALUE, -1);
}
