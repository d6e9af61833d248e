package jbtrfs.fs;

import jbtrfs.format.Key;

/**
 * One item BTRFS_IOC_TREE_SEARCH hands back (struct btrfs_ioctl_search_header and the item's bytes).
 *
 * @param transid the generation of the leaf holding the item
 */
public record TreeSearchItem(long transid, Key key, byte[] data) {
    /** struct btrfs_ioctl_search_header: transid, objectid, offset, type, len. */
    public static final int HEADER_SIZE = 32;
}
