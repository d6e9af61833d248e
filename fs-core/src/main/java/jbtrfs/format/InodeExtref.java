package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * btrfs_inode_extref: parent_objectid u64 0, index u64 8, name_len u16 16, name from 18.
 * Keyed (inode, INODE_EXTREF, hash of parent and name); colliding refs share one item.
 */
public record InodeExtref(long parentObjectid, long index, byte[] name) {
    public static final int SIZE_WITHOUT_NAME = 18;

    /** All extrefs packed in the item at {@code offset} of {@code size} bytes. */
    public static List<InodeExtref> readAll(ByteBuffer b, int offset, int size) {
        return PackedRefs.readAll(b, offset, size, SIZE_WITHOUT_NAME, 16, "inode extref",
                (buf, at, name) -> new InodeExtref(buf.getLong(at), buf.getLong(at + 8), name));
    }

    /** Packs extrefs into one item's data. */
    public static byte[] encodeAll(List<InodeExtref> refs) {
        int size = 0;
        for (InodeExtref r : refs) size += SIZE_WITHOUT_NAME + r.name.length;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        int p = 0;
        for (InodeExtref r : refs) {
            b.putLong(p, r.parentObjectid).putLong(p + 8, r.index).putShort(p + 16, (short) r.name.length)
                    .put(p + SIZE_WITHOUT_NAME, r.name);
            p += SIZE_WITHOUT_NAME + r.name.length;
        }
        return b.array();
    }
}
