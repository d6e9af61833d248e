package jbtrfs.format;

import java.nio.ByteBuffer;

/**
 * btrfs_dev_item (98 bytes): devid 0, total_bytes 8, bytes_used 16, io_align 24, io_width 28, sector_size 32,
 * type 36, generation 44, start_offset 52, dev_group 60, seek_speed 64, bandwidth 65, uuid 66, fsid 82.
 */
public record DevItem(long devid, long totalBytes, long bytesUsed, int ioAlign, int ioWidth, int sectorSize,
                      long type, long generation, byte[] uuid, byte[] fsid) {
    public static final int SIZE = 98;
    public static final int OFFSET_BYTES_USED = 16;

    /** Reads a dev item at {@code offset} of a little-endian buffer. */
    public static DevItem read(ByteBuffer b, int offset) {
        return new DevItem(b.getLong(offset), b.getLong(offset + 8), b.getLong(offset + 16), b.getInt(offset + 24),
                b.getInt(offset + 28), b.getInt(offset + 32), b.getLong(offset + 36), b.getLong(offset + 44),
                Uuids.read(b, offset + 66), Uuids.read(b, offset + 82));
    }
}
