package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * btrfs_super_block (4096 bytes; copies at 64 KiB, 64 MiB and 256 GiB). The checksum covers bytes 32..4095.
 * Only the fields jbtrfs uses are decoded; {@link #raw()} keeps the whole block.
 */
public record SuperBlock(ByteBuffer raw, byte[] fsid, long bytenr, long flags, long magic, long generation,
                         long root, long chunkRoot, long logRoot, long totalBytes, long bytesUsed,
                         long rootDirObjectid, long numDevices, int sectorsize, int nodesize, int stripesize,
                         int sysChunkArraySize, long chunkRootGeneration, long compatFlags, long compatRoFlags,
                         long incompatFlags, int csumType, int rootLevel, int chunkRootLevel, int logRootLevel,
                         DevItem devItem, String label, long cacheGeneration, long uuidTreeGeneration,
                         byte[] metadataUuid) {
    public static final int SIZE = 4096;
    public static final long MAGIC = 0x4D5F53665248425FL; // "_BHRfS_M"
    public static final long[] MIRROR_OFFSETS = {64L << 10, 64L << 20, 256L << 30};
    public static final int CSUM_SIZE = 32;
    public static final int OFFSET_FSID = 32;
    public static final int OFFSET_BYTENR = 48;
    public static final int OFFSET_FLAGS = 56;
    public static final int OFFSET_MAGIC = 64;
    public static final int OFFSET_GENERATION = 72;
    public static final int OFFSET_ROOT = 80;
    public static final int OFFSET_CHUNK_ROOT = 88;
    public static final int OFFSET_LOG_ROOT = 96;
    public static final int OFFSET_TOTAL_BYTES = 112;
    public static final int OFFSET_BYTES_USED = 120;
    public static final int OFFSET_ROOT_DIR_OBJECTID = 128;
    public static final int OFFSET_NUM_DEVICES = 136;
    public static final int OFFSET_SECTORSIZE = 144;
    public static final int OFFSET_NODESIZE = 148;
    public static final int OFFSET_STRIPESIZE = 156;
    public static final int OFFSET_SYS_CHUNK_ARRAY_SIZE = 160;
    public static final int OFFSET_CHUNK_ROOT_GENERATION = 164;
    public static final int OFFSET_COMPAT_FLAGS = 172;
    public static final int OFFSET_COMPAT_RO_FLAGS = 180;
    public static final int OFFSET_INCOMPAT_FLAGS = 188;
    public static final int OFFSET_CSUM_TYPE = 196;
    public static final int OFFSET_ROOT_LEVEL = 198;
    public static final int OFFSET_CHUNK_ROOT_LEVEL = 199;
    public static final int OFFSET_LOG_ROOT_LEVEL = 200;
    public static final int OFFSET_DEV_ITEM = 201;
    public static final int OFFSET_LABEL = 299;
    public static final int LABEL_SIZE = 256;
    public static final int OFFSET_CACHE_GENERATION = 555;
    public static final int OFFSET_UUID_TREE_GENERATION = 563;
    public static final int OFFSET_METADATA_UUID = 571;
    public static final int OFFSET_SYS_CHUNK_ARRAY = 811;
    public static final int SYS_CHUNK_ARRAY_MAX = 2048;

    /** Decodes a superblock from its 4096 bytes (no validation: see {@code SuperBlockReader}). */
    public static SuperBlock decode(ByteBuffer src) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[] labelBytes = new byte[LABEL_SIZE];
        b.get(OFFSET_LABEL, labelBytes);
        int len = 0;
        while (len < LABEL_SIZE && labelBytes[len] != 0) len++;
        return new SuperBlock(b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), Uuids.read(b, OFFSET_FSID),
                b.getLong(OFFSET_BYTENR), b.getLong(OFFSET_FLAGS), b.getLong(OFFSET_MAGIC),
                b.getLong(OFFSET_GENERATION), b.getLong(OFFSET_ROOT), b.getLong(OFFSET_CHUNK_ROOT),
                b.getLong(OFFSET_LOG_ROOT), b.getLong(OFFSET_TOTAL_BYTES), b.getLong(OFFSET_BYTES_USED),
                b.getLong(OFFSET_ROOT_DIR_OBJECTID), b.getLong(OFFSET_NUM_DEVICES), b.getInt(OFFSET_SECTORSIZE),
                b.getInt(OFFSET_NODESIZE), b.getInt(OFFSET_STRIPESIZE), b.getInt(OFFSET_SYS_CHUNK_ARRAY_SIZE),
                b.getLong(OFFSET_CHUNK_ROOT_GENERATION), b.getLong(OFFSET_COMPAT_FLAGS),
                b.getLong(OFFSET_COMPAT_RO_FLAGS), b.getLong(OFFSET_INCOMPAT_FLAGS),
                Short.toUnsignedInt(b.getShort(OFFSET_CSUM_TYPE)), Byte.toUnsignedInt(b.get(OFFSET_ROOT_LEVEL)),
                Byte.toUnsignedInt(b.get(OFFSET_CHUNK_ROOT_LEVEL)), Byte.toUnsignedInt(b.get(OFFSET_LOG_ROOT_LEVEL)),
                DevItem.read(b, OFFSET_DEV_ITEM), new String(labelBytes, 0, len, StandardCharsets.UTF_8),
                b.getLong(OFFSET_CACHE_GENERATION), b.getLong(OFFSET_UUID_TREE_GENERATION),
                Uuids.read(b, OFFSET_METADATA_UUID));
    }

    /** The UUID tree blocks carry: metadata_uuid with the METADATA_UUID feature, else fsid. */
    public byte[] treeBlockFsid() {
        return (incompatFlags & Features.INCOMPAT_METADATA_UUID) != 0 ? metadataUuid : fsid;
    }

    /** A copy of the sys_chunk_array bytes that bootstrap the chunk tree. */
    public ByteBuffer sysChunkArray() {
        int n = Integer.compareUnsigned(sysChunkArraySize, SYS_CHUNK_ARRAY_MAX) > 0 ? SYS_CHUNK_ARRAY_MAX
                : sysChunkArraySize; // a larger size is refused at open (SuperBlocks.checkSupported)
        return raw.slice(OFFSET_SYS_CHUNK_ARRAY, n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
