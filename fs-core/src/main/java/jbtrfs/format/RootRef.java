package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_root_ref: dirid u64 0, sequence u64 8, name_len u16 16, name from 18. Used by ROOT_REF (parent tree,
 * ROOT_REF, child tree) and ROOT_BACKREF (child tree, ROOT_BACKREF, parent tree).
 */
public record RootRef(long dirid, long sequence, byte[] name) {
    public static final int SIZE_WITHOUT_NAME = 18;

    /** Reads a root ref at {@code offset} of {@code size} bytes. */
    public static RootRef read(ByteBuffer b, int offset, int size) {
        int nameLen = Short.toUnsignedInt(b.getShort(offset + 16));
        if (SIZE_WITHOUT_NAME + nameLen > size) {
            throw new MalformedItemException("root ref name of " + nameLen + " bytes overruns its item");
        }
        byte[] name = new byte[nameLen];
        b.get(offset + SIZE_WITHOUT_NAME, name);
        return new RootRef(b.getLong(offset), b.getLong(offset + 8), name);
    }

    /** The item's bytes. */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE_WITHOUT_NAME + name.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, dirid).putLong(8, sequence).putShort(16, (short) name.length).put(SIZE_WITHOUT_NAME, name);
        return b.array();
    }
}
