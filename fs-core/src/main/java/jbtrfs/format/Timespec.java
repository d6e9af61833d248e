package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** btrfs_timespec (12 bytes): sec u64 0 (seconds since the epoch), nsec u32 8. */
public record Timespec(long sec, int nsec) {
    public static final int SIZE = 12;
    public static final int OFFSET_SEC = 0;
    public static final int OFFSET_NSEC = 8;

    /**
     * utimens' UTIME_NOW: the time of the change. Unlike an explicit time it may be set on an append-only inode,
     * as the VFS lets a plain touch through.
     */
    public static final Timespec NOW = new Timespec(Long.MIN_VALUE, -1);

    /** Reads a timespec at {@code offset} of a little-endian buffer. */
    public static Timespec read(ByteBuffer b, int offset) {
        return new Timespec(b.getLong(offset + OFFSET_SEC), b.getInt(offset + OFFSET_NSEC));
    }

    /** Encodes this timespec into its 12 bytes. */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        write(b, 0);
        return b.array();
    }

    /** Writes this timespec at {@code offset} of a little-endian buffer. */
    public void write(ByteBuffer b, int offset) {
        b.putLong(offset + OFFSET_SEC, sec).putInt(offset + OFFSET_NSEC, nsec);
    }
}
