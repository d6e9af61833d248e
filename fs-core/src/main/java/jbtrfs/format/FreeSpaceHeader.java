package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_free_space_header (41 bytes): location disk key 0 (the cache inode's INODE_ITEM key), generation 17,
 * num_entries 25, num_bitmaps 33. Keyed (FREE_SPACE, 0, block group start) in the root tree: the v1 space cache of
 * that block group lives in the file {@code location} names.
 */
public record FreeSpaceHeader(Key location, long generation, long numEntries, long numBitmaps) {
    public static final int SIZE = 41;
    private static final int OFFSET_GENERATION = Key.SIZE;
    private static final int OFFSET_NUM_ENTRIES = Key.SIZE + 8;
    private static final int OFFSET_NUM_BITMAPS = Key.SIZE + 16;

    /** The root tree key of block group {@code start}'s header. */
    public static Key key(long blockGroupStart) {
        return new Key(ObjectIds.FREE_SPACE, 0, blockGroupStart);
    }

    public static FreeSpaceHeader read(ByteBuffer b, int at) {
        return new FreeSpaceHeader(Key.read(b, at), b.getLong(at + OFFSET_GENERATION),
                b.getLong(at + OFFSET_NUM_ENTRIES), b.getLong(at + OFFSET_NUM_BITMAPS));
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        location.write(b, 0);
        b.putLong(OFFSET_GENERATION, generation).putLong(OFFSET_NUM_ENTRIES, numEntries)
                .putLong(OFFSET_NUM_BITMAPS, numBitmaps);
        return b.array();
    }
}
