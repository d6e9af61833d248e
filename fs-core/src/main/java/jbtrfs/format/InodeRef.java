package jbtrfs.format;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * btrfs_inode_ref: index u64 0, name_len u16 8, name from 10. Keyed (inode, INODE_REF, parent dir); one item
 * packs several refs when the inode has several names in that directory.
 */
public record InodeRef(long index, byte[] name) {
    public static final int SIZE_WITHOUT_NAME = 10;

    /** All refs packed in the item at {@code offset} of {@code size} bytes. */
    public static List<InodeRef> readAll(ByteBuffer b, int offset, int size) {
        List<InodeRef> out = new ArrayList<>(1);
        int p = offset;
        int end = offset + size;
        while (p + SIZE_WITHOUT_NAME <= end) {
            int nameLen = Short.toUnsignedInt(b.getShort(p + 8));
            if (p + SIZE_WITHOUT_NAME + nameLen > end) {
                throw new MalformedItemException("inode ref name of " + nameLen + " bytes overruns its item");
            }
            byte[] name = new byte[nameLen];
            b.get(p + SIZE_WITHOUT_NAME, name);
            out.add(new InodeRef(b.getLong(p), name));
            p += SIZE_WITHOUT_NAME + nameLen;
        }
        return out;
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
