package jbtrfs.fs;

import jbtrfs.format.Timespec;

/**
 * What stat(2) shows for an inode, as the kernel fills it from the inode item.
 *
 * @param ino    st_ino (the inode's objectid)
 * @param mode   file type and permission bits (S_IFMT | 07777)
 * @param rdev   device number for character and block devices, in the kernel's new_encode_dev form
 * @param blocks 512-byte blocks in use, as the kernel reports them
 * @param otime  creation time (statx btime)
 * @param generation the inode item's generation (the transaction that created it): file handles carry it
 * @param flags  the inode item's flags (InodeItem.FLAG_*): chattr attributes, statx attributes
 */
public record Stat(long ino, int mode, long nlink, int uid, int gid, long rdev, long size, long blocks,
                   Timespec atime, Timespec mtime, Timespec ctime, Timespec otime, long generation,
                   long flags) {
    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;

    public boolean isDirectory() { return (mode & S_IFMT) == S_IFDIR; }

    public boolean isRegular() { return (mode & S_IFMT) == S_IFREG; }

    public boolean isSymlink() { return (mode & S_IFMT) == S_IFLNK; }
}
