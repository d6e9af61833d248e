package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_free_space_info (8 bytes): extent_count u32 0, flags u32 4 (USING_BITMAPS 1). Keyed (block group start,
 * FREE_SPACE_INFO, block group length) in the free-space tree, followed by that group's FREE_SPACE_EXTENT items
 * (no data; key (start, FREE_SPACE_EXTENT, length)) or FREE_SPACE_BITMAP items (one bit per sector, set = free).
 */
public record FreeSpaceInfo(int extentCount, int flags) {
    public static final int SIZE = 8;
    public static final int FLAG_USING_BITMAPS = 1;

    public static FreeSpaceInfo read(ByteBuffer b, int at) {
        return new FreeSpaceInfo(b.getInt(at), b.getInt(at + 4));
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, extentCount).putInt(4, flags);
        return b.array();
    }

    public boolean usingBitmaps() { return (flags & FLAG_USING_BITMAPS) != 0; }
}
