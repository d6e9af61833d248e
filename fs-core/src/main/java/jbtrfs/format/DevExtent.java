package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_dev_extent (48 bytes): chunk_tree 0, chunk_objectid 8, chunk_offset 16, length 24, chunk_tree_uuid 32.
 * Keyed (devid, DEV_EXTENT, physical start) in the device tree: which chunk owns a stretch of a device.
 */
public record DevExtent(long chunkTree, long chunkObjectid, long chunkOffset, long length, byte[] chunkTreeUuid) {
    public static final int SIZE = 48;

    public static DevExtent read(ByteBuffer b, int at) {
        return new DevExtent(b.getLong(at), b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24),
                Uuids.read(b, at + 32));
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, chunkTree).putLong(8, chunkObjectid).putLong(16, chunkOffset).putLong(24, length)
                .put(32, chunkTreeUuid);
        return b.array();
    }
}
