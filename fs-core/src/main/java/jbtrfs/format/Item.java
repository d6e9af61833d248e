package jbtrfs.format;

/**
 * btrfs_item (25 bytes) in a leaf: key 0, data offset u32 17 (counted from the end of the header), size u32 21.
 */
public final class Item {
    public static final int SIZE = 25;
    public static final int OFFSET_KEY = 0;
    public static final int OFFSET_DATA_OFFSET = 17;
    public static final int OFFSET_DATA_SIZE = 21;

    private Item() {
    }
}
