package jbtrfs.format;

import java.nio.ByteBuffer;

/**
 * btrfs_free_space_entry (17 bytes, packed): offset 0, bytes 8, type u8 16. An entry of a v1 space cache file: a
 * free extent, or a bitmap whose page follows all the entries (offset = the bitmap's first byte, bytes = the free
 * bytes it marks).
 */
public record FreeSpaceEntry(long offset, long bytes, int type) {
    public static final int SIZE = 17;
    public static final int TYPE_EXTENT = 1;
    public static final int TYPE_BITMAP = 2;

    public static FreeSpaceEntry read(ByteBuffer b, int at) {
        return new FreeSpaceEntry(b.getLong(at), b.getLong(at + 8), Byte.toUnsignedInt(b.get(at + 16)));
    }

    public void write(ByteBuffer b, int at) {
        b.putLong(at, offset).putLong(at + 8, bytes).put(at + 16, (byte) type);
    }

    public boolean isBitmap() { return type == TYPE_BITMAP; }
}
