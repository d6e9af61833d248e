package jbtrfs.format;

/** btrfs_key_ptr (33 bytes) in a node: key 0, blockptr u64 17, generation u64 25. */
public final class KeyPtr {
    public static final int SIZE = 33;
    public static final int OFFSET_KEY = 0;
    public static final int OFFSET_BLOCKPTR = 17;
    public static final int OFFSET_GENERATION = 25;

    private KeyPtr() {
    }
}
