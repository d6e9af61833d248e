package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** btrfs_block_group_item (24 bytes): used 0, chunk_objectid 8, flags 16. Keyed (start, BLOCK_GROUP_ITEM, length). */
public record BlockGroupItem(long used, long chunkObjectid, long flags) {
    public static final int SIZE = 24;

    /** Reads a block group item at {@code offset}. */
    public static BlockGroupItem read(ByteBuffer b, int offset) {
        return new BlockGroupItem(b.getLong(offset), b.getLong(offset + 8), b.getLong(offset + 16));
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, used).putLong(8, chunkObjectid).putLong(16, flags);
        return b.array();
    }
}
