package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_root_item (439 bytes; older images have 239): inode item 0, generation 160, root_dirid 168, bytenr 176,
 * byte_limit 184, bytes_used 192, last_snapshot 200, flags 208, refs u32 216, drop_progress key 220,
 * drop_level 237, level 238, generation_v2 239, uuid 247, parent_uuid 263, received_uuid 279, ctransid 295,
 * otransid 303, stransid 311, rtransid 319, ctime 327, otime 339, stime 351, rtime 363, reserved to 439.
 */
public record RootItem(InodeItem inode, long generation, long rootDirid, long bytenr, long bytesUsed, long flags,
                       int refs, int level, long generationV2, byte[] uuid, byte[] parentUuid, long ctransid,
                       long otransid, Timespec otime, long lastSnapshot) {
    public static final int SIZE = 439;
    public static final int SIZE_LEGACY = 239;
    public static final long FLAG_SUBVOL_RDONLY = 1L;
    public static final int OFFSET_GENERATION = 160;
    public static final int OFFSET_BYTENR = 176;
    public static final int OFFSET_BYTES_USED = 192;
    public static final int OFFSET_LAST_SNAPSHOT = 200;
    public static final int OFFSET_REFS = 216;
    public static final int OFFSET_LEVEL = 238;
    public static final int OFFSET_GENERATION_V2 = 239;
    public static final int OFFSET_CTRANSID = 295;
    public static final int OFFSET_CTIME = 327;

    /** Reads a root item at {@code offset} of {@code size} bytes (legacy items lack the fields from 239 on). */
    /**
     * The root item of a new global tree (≈ btrfs_create_tree): its one empty leaf at {@code bytenr}, one
     * reference, no inode, no uuid.
     */
    public static byte[] encodeNewTree(long bytenr, long transid, int nodesize) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(OFFSET_GENERATION, transid).putLong(OFFSET_BYTENR, bytenr).putLong(OFFSET_BYTES_USED, nodesize)
                .putInt(OFFSET_REFS, 1).put(OFFSET_LEVEL, (byte) 0).putLong(OFFSET_GENERATION_V2, transid);
        return b.array();
    }

    public static RootItem read(ByteBuffer b, int offset, int size) {
        if (size < SIZE_LEGACY) {
            throw new MalformedItemException("root item of " + size + " bytes, expected at least " + SIZE_LEGACY);
        }
        boolean full = size >= SIZE;
        return new RootItem(InodeItem.read(b, offset), b.getLong(offset + 160), b.getLong(offset + 168),
                b.getLong(offset + 176), b.getLong(offset + 192), b.getLong(offset + 208), b.getInt(offset + 216),
                Byte.toUnsignedInt(b.get(offset + 238)), full ? b.getLong(offset + 239) : 0,
                full ? Uuids.read(b, offset + 247) : new byte[16], full ? Uuids.read(b, offset + 263) : new byte[16],
                full ? b.getLong(offset + 295) : 0, full ? b.getLong(offset + 303) : 0,
                full ? Timespec.read(b, offset + 339) : new Timespec(0, 0), b.getLong(offset + 200));
    }

    public boolean readOnly() { return (flags & FLAG_SUBVOL_RDONLY) != 0; }
}
