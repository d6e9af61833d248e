package jbtrfs.format;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * btrfs_dir_item: location key 0, transid u64 17, data_len u16 25, name_len u16 27, type u8 29, name from 30,
 * then data_len bytes of data (an xattr's value). Used by DIR_ITEM, DIR_INDEX and XATTR_ITEM; names whose hashes
 * collide share one DIR_ITEM/XATTR_ITEM.
 */
public record DirItem(Key location, long transid, int type, byte[] name, byte[] data) {
    public static final int SIZE_WITHOUT_NAME = 30;

    /** File types in dir items (BTRFS_FT_*). */
    public static final int FT_UNKNOWN = 0;
    public static final int FT_REG_FILE = 1;
    public static final int FT_DIR = 2;
    public static final int FT_CHRDEV = 3;
    public static final int FT_BLKDEV = 4;
    public static final int FT_FIFO = 5;
    public static final int FT_SOCK = 6;
    public static final int FT_SYMLINK = 7;
    public static final int FT_XATTR = 8;

    /** All dir items packed in the item at {@code offset} of {@code size} bytes. */
    public static List<DirItem> readAll(ByteBuffer b, int offset, int size) {
        List<DirItem> out = new ArrayList<>(1);
        int p = offset;
        int end = offset + size;
        while (p + SIZE_WITHOUT_NAME <= end) {
            int dataLen = Short.toUnsignedInt(b.getShort(p + 25));
            int nameLen = Short.toUnsignedInt(b.getShort(p + 27));
            if (p + SIZE_WITHOUT_NAME + nameLen + dataLen > end) {
                throw new MalformedItemException("dir item name " + nameLen + " + data " + dataLen
                        + " bytes overrun its item");
            }
            byte[] name = new byte[nameLen];
            b.get(p + SIZE_WITHOUT_NAME, name);
            byte[] data = new byte[dataLen];
            b.get(p + SIZE_WITHOUT_NAME + nameLen, data);
            // the type's top bits carry encryption flags in newer kernels; the low bits are the file type
            out.add(new DirItem(Key.read(b, p), b.getLong(p + 17), Byte.toUnsignedInt(b.get(p + 29)) & 0x0f, name, data));
            p += SIZE_WITHOUT_NAME + nameLen + dataLen;
        }
        return out;
    }

    /** The dirent d_type (DT_*) for a BTRFS_FT_* type. */
    public static int direntType(int ft) {
        return switch (ft) {
            case FT_REG_FILE -> 8;
            case FT_DIR -> 4;
            case FT_CHRDEV -> 2;
            case FT_BLKDEV -> 6;
            case FT_FIFO -> 1;
            case FT_SOCK -> 12;
            case FT_SYMLINK -> 10;
            default -> 0;
        };
    }

    /** Encodes this dir item (to be packed after others with the same key). */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE_WITHOUT_NAME + name.length + data.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        location.write(b, 0);
        b.putLong(17, transid).putShort(25, (short) data.length).putShort(27, (short) name.length)
                .put(29, (byte) type).put(SIZE_WITHOUT_NAME, name).put(SIZE_WITHOUT_NAME + name.length, data);
        return b.array();
    }

    /** Packs dir items into one item's data. */
    public static byte[] encodeAll(List<DirItem> items) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (DirItem d : items) out.writeBytes(d.encode());
        return out.toByteArray();
    }

    /** The BTRFS_FT_* type of an inode mode. */
    public static int typeOfMode(int mode) {
        return switch (mode & 0170000) {
            case 0100000 -> FT_REG_FILE;
            case 0040000 -> FT_DIR;
            case 0020000 -> FT_CHRDEV;
            case 0060000 -> FT_BLKDEV;
            case 0010000 -> FT_FIFO;
            case 0140000 -> FT_SOCK;
            case 0120000 -> FT_SYMLINK;
            default -> FT_UNKNOWN;
        };
    }
}
