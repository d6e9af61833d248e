package jbtrfs.fs;

/**
 * An inode as the filesystem knows it: the tree (subvolume) it lives in and its objectid there.
 * The kernel shows {@code objectid} as st_ino; subvolumes repeat objectids, so the root is part of the identity.
 */
public record InodeId(long root, long objectid) {
    @Override
    public String toString() { return root + ":" + objectid; }
}
