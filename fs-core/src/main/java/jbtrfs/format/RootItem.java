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
                       long otransid, Timespec otime, long lastSnapshot, Key dropProgress, int dropLevel,
                       byte[] receivedUuid, long stransid, long rtransid, Timespec ctime, Timespec stime,
                       Timespec rtime) {
    public static final int SIZE = 439;
    public static final int SIZE_LEGACY = 239;
    /** BTRFS_ROOT_SUBVOL_RDONLY: a read-only subvolume or snapshot. */
    public static final long FLAG_SUBVOL_RDONLY = 1L;
    /** BTRFS_ROOT_SUBVOL_DEAD: the subvolume is deleted, its tree waits for the cleaner. */
    public static final long FLAG_SUBVOL_DEAD = 1L << 48;
    /** The root item inode's flags of a subvolume made by the kernel (BTRFS_INODE_ROOT_ITEM_INIT). */
    public static final long INODE_ROOT_ITEM_INIT = 1L << 31;
    public static final int OFFSET_GENERATION = 160;
    public static final int OFFSET_ROOT_DIRID = 168;
    public static final int OFFSET_BYTENR = 176;
    public static final int OFFSET_BYTES_USED = 192;
    public static final int OFFSET_LAST_SNAPSHOT = 200;
    public static final int OFFSET_FLAGS = 208;
    public static final int OFFSET_REFS = 216;
    public static final int OFFSET_DROP_PROGRESS = 220;
    public static final int OFFSET_DROP_LEVEL = 237;
    public static final int OFFSET_LEVEL = 238;
    public static final int OFFSET_GENERATION_V2 = 239;
    public static final int OFFSET_UUID = 247;
    public static final int OFFSET_PARENT_UUID = 263;
    public static final int OFFSET_RECEIVED_UUID = 279;
    public static final int OFFSET_CTRANSID = 295;
    public static final int OFFSET_OTRANSID = 303;
    public static final int OFFSET_STRANSID = 311;
    public static final int OFFSET_RTRANSID = 319;
    public static final int OFFSET_CTIME = 327;
    public static final int OFFSET_OTIME = 339;
    public static final int OFFSET_STIME = 351;
    public static final int OFFSET_RTIME = 363;

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

    /** Reads a root item at {@code offset} of {@code size} bytes (legacy items lack the fields from 239 on). */
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
                full ? Timespec.read(b, offset + 339) : new Timespec(0, 0), b.getLong(offset + 200),
                Key.read(b, offset + OFFSET_DROP_PROGRESS), Byte.toUnsignedInt(b.get(offset + OFFSET_DROP_LEVEL)),
                full ? Uuids.read(b, offset + OFFSET_RECEIVED_UUID) : new byte[16],
                full ? b.getLong(offset + OFFSET_STRANSID) : 0, full ? b.getLong(offset + OFFSET_RTRANSID) : 0,
                full ? Timespec.read(b, offset + OFFSET_CTIME) : new Timespec(0, 0),
                full ? Timespec.read(b, offset + OFFSET_STIME) : new Timespec(0, 0),
                full ? Timespec.read(b, offset + OFFSET_RTIME) : new Timespec(0, 0));
    }

    public boolean readOnly() { return (flags & FLAG_SUBVOL_RDONLY) != 0; }

    /** Whether a deleted subvolume's drop has begun (drop_progress set): the tree before that key is gone. */
    public boolean dropStarted() { return dropProgress.objectid() != 0; }
}
