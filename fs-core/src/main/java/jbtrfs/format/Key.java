package jbtrfs.format;

import java.nio.ByteBuffer;

/**
 * btrfs_disk_key: the 17-byte key every item and pointer is ordered by.
 * Layout: objectid u64 at 0, type u8 at 8, offset u64 at 9. Ordered by objectid, type, offset, all unsigned.
 */
public record Key(long objectid, int type, long offset) implements Comparable<Key> {
    public static final int SIZE = 17;
    public static final int OFFSET_OBJECTID = 0;
    public static final int OFFSET_TYPE = 8;
    public static final int OFFSET_OFFSET = 9;

    /** Smallest key of {@code objectid}/{@code type}. */
    public static Key first(long objectid, int type) { return new Key(objectid, type, 0); }

    /** Largest key of {@code objectid}/{@code type}. */
    public static Key last(long objectid, int type) { return new Key(objectid, type, -1L); }

    /** Reads a key at {@code offset} of a little-endian buffer. */
    public static Key read(ByteBuffer b, int offset) {
        return new Key(b.getLong(offset + OFFSET_OBJECTID), Byte.toUnsignedInt(b.get(offset + OFFSET_TYPE)),
                b.getLong(offset + OFFSET_OFFSET));
    }

    /** Writes this key at {@code offset} of a little-endian buffer. */
    public void write(ByteBuffer b, int offset) {
        b.putLong(offset + OFFSET_OBJECTID, objectid);
        b.put(offset + OFFSET_TYPE, (byte) type);
        b.putLong(offset + OFFSET_OFFSET, this.offset);
    }

    /** Compares the key stored at {@code offset} of {@code b} with this one without decoding it. */
    public static int compareAt(ByteBuffer b, int offset, Key k) {
        int c = Long.compareUnsigned(b.getLong(offset + OFFSET_OBJECTID), k.objectid);
        if (c != 0) return c;
        c = Integer.compare(Byte.toUnsignedInt(b.get(offset + OFFSET_TYPE)), k.type);
        if (c != 0) return c;
        return Long.compareUnsigned(b.getLong(offset + OFFSET_OFFSET), k.offset);
    }

    @Override
    public int compareTo(Key o) {
        int c = Long.compareUnsigned(objectid, o.objectid);
        if (c != 0) return c;
        c = Integer.compare(type, o.type);
        if (c != 0) return c;
        return Long.compareUnsigned(offset, o.offset);
    }

    @Override
    public String toString() {
        return "(" + Long.toUnsignedString(objectid) + " " + KeyType.name(type) + " " + Long.toUnsignedString(offset) + ")";
    }
}
