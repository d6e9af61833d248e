package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_extent_data_ref (28 bytes): root 0, objectid 8, offset 16 (file offset minus the extent offset), count u32
 * 24. Inline in an extent item, or its own item keyed (bytenr, EXTENT_DATA_REF, hash of root/objectid/offset).
 */
public record ExtentDataRef(long root, long objectid, long offset, int count) {
    public static final int SIZE = 28;

    public static ExtentDataRef read(ByteBuffer b, int at) {
        return new ExtentDataRef(b.getLong(at), b.getLong(at + 8), b.getLong(at + 16), b.getInt(at + 24));
    }

    public void write(ByteBuffer b, int at) {
        b.putLong(at, root).putLong(at + 8, objectid).putLong(at + 16, offset).putInt(at + 24, count);
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        write(b, 0);
        return b.array();
    }
}
