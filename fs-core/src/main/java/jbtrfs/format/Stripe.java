package jbtrfs.format;

import java.nio.ByteBuffer;

/** btrfs_stripe (32 bytes): devid u64 0, offset u64 8 (physical byte on the device), dev_uuid 16. */
public record Stripe(long devid, long offset, byte[] devUuid) {
    public static final int SIZE = 32;

    /** Reads a stripe at {@code offset} of a little-endian buffer. */
    public static Stripe read(ByteBuffer b, int offset) {
        return new Stripe(b.getLong(offset), b.getLong(offset + 8), Uuids.read(b, offset + 16));
    }
}
