package jbtrfs.fs;

/** A btrfs_timespec: seconds since the epoch and nanoseconds. */
public record Timespec(long sec, int nsec) {
}
