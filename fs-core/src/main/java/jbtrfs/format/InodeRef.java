package jbtrfs.format;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * btrfs_inode_ref: index u64 0, name_len u16 8, name from 10. Keyed (inode, INODE_REF, parent dir); one item
 * packs several refs when the inode has several names in that directory.
 */
public record InodeRef(long index, byte[] name) {
    public static final int SIZE_WITHOUT_NAME = 10;

    /** All refs packed in the item at {@code offset} of {@code size} bytes. */
    public static List<InodeRef> readAll(ByteBuffer b, int offset, int size) {
        return PackedRefs.readAll(b, offset, size, SIZE_WITHOUT_NAME, 8, "inode ref",
                (buf, at, name) -> new InodeRef(buf.getLong(at), name));
    }

    /** Encodes this ref (to be packed after others with the same key). */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE_WITHOUT_NAME + name.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, index).putShort(8, (short) name.length).put(SIZE_WITHOUT_NAME, name);
        return b.array();
    }

    /** Packs refs into one item's data. */
    public static byte[] encodeAll(List<InodeRef> refs) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (InodeRef r : refs) out.writeBytes(r.encode());
        return out.toByteArray();
    }
}
