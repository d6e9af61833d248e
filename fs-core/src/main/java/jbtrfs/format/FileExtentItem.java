package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_file_extent_item: generation 0, ram_bytes 8, compression u8 16, encryption u8 17, other_encoding u16 18,
 * type u8 20; inline data from 21, or disk_bytenr 21, disk_num_bytes 29, offset 37, num_bytes 45 (53 bytes).
 * Keyed (inode, EXTENT_DATA, file offset).
 *
 * @param inlineOffset where the inline payload starts in its leaf (inline extents only)
 * @param inlineSize   bytes of inline payload on disk (inline extents only)
 */
public record FileExtentItem(long generation, long ramBytes, int compression, int encryption, int otherEncoding,
                             int type, long diskBytenr, long diskNumBytes, long offset, long numBytes,
                             int inlineOffset, int inlineSize) {
    public static final int TYPE_INLINE = 0;
    public static final int TYPE_REG = 1;
    public static final int TYPE_PREALLOC = 2;
    public static final int OFFSET_INLINE_DATA = 21;
    public static final int SIZE_REGULAR = 53;

    /** Reads a file extent item at {@code offset} of {@code size} bytes. */
    public static FileExtentItem read(ByteBuffer b, int offset, int size) {
        if (size < OFFSET_INLINE_DATA) {
            throw new MalformedItemException("file extent item of " + size + " bytes");
        }
        int type = Byte.toUnsignedInt(b.get(offset + 20));
        long gen = b.getLong(offset);
        long ram = b.getLong(offset + 8);
        int compression = Byte.toUnsignedInt(b.get(offset + 16));
        int encryption = Byte.toUnsignedInt(b.get(offset + 17));
        int other = Short.toUnsignedInt(b.getShort(offset + 18));
        if (type == TYPE_INLINE) {
            return new FileExtentItem(gen, ram, compression, encryption, other, type, 0, 0, 0, ram,
                    offset + OFFSET_INLINE_DATA, size - OFFSET_INLINE_DATA);
        }
        if (size < SIZE_REGULAR) {
            throw new MalformedItemException("regular file extent item of " + size + " bytes, expected "
                    + SIZE_REGULAR);
        }
        return new FileExtentItem(gen, ram, compression, encryption, other, type, b.getLong(offset + 21),
                b.getLong(offset + 29), b.getLong(offset + 37), b.getLong(offset + 45), 0, 0);
    }

    public boolean isInline() { return type == TYPE_INLINE; }

    public boolean isPrealloc() { return type == TYPE_PREALLOC; }

    /** A regular extent with disk_bytenr 0: an explicit hole. */
    public boolean isHole() { return type != TYPE_INLINE && diskBytenr == 0; }

    /** A regular or prealloc extent's 53 bytes, uncompressed. */
    public static byte[] encodeRegular(long generation, int type, long diskBytenr, long diskNumBytes, long offset,
                                       long numBytes, long ramBytes) {
        return encode(generation, type, 0, diskBytenr, diskNumBytes, offset, numBytes, ramBytes);
    }

    /** A regular or prealloc extent's 53 bytes with its {@code compression} byte. */
    public static byte[] encode(long generation, int type, int compression, long diskBytenr, long diskNumBytes,
                                long offset, long numBytes, long ramBytes) {
        ByteBuffer b = ByteBuffer.allocate(SIZE_REGULAR).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, generation).putLong(8, ramBytes).put(16, (byte) compression).put(20, (byte) type)
                .putLong(21, diskBytenr).putLong(29, diskNumBytes).putLong(37, offset).putLong(45, numBytes);
        return b.array();
    }

    /** An inline extent holding {@code data} uncompressed. */
    public static byte[] encodeInline(long generation, byte[] data) {
        return encodeInline(generation, data, data.length, 0);
    }

    /** An inline extent holding {@code data}, which {@code compression} turns into {@code ramBytes} bytes. */
    public static byte[] encodeInline(long generation, byte[] data, long ramBytes, int compression) {
        ByteBuffer b = ByteBuffer.allocate(OFFSET_INLINE_DATA + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, generation).putLong(8, ramBytes).put(16, (byte) compression).put(20, (byte) TYPE_INLINE)
                .put(OFFSET_INLINE_DATA, data);
        return b.array();
    }

    /** This regular/prealloc item re-encoded with another offset into its extent and length. */
    public byte[] encodeSlice(long newOffset, long newNumBytes) {
        ByteBuffer b = ByteBuffer.allocate(SIZE_REGULAR).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, generation).putLong(8, ramBytes).put(16, (byte) compression).put(17, (byte) encryption)
                .putShort(18, (short) otherEncoding).put(20, (byte) type).putLong(21, diskBytenr)
                .putLong(29, diskNumBytes).putLong(37, newOffset).putLong(45, newNumBytes);
        return b.array();
    }
}
