package jbtrfs.format;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * btrfs_chunk (48 bytes + 32 per stripe): length 0, owner 8, stripe_len 16, type 24, io_align 32, io_width 36,
 * sector_size 40, num_stripes u16 44, sub_stripes u16 46, stripes from 48. Keyed (256, CHUNK_ITEM, logical start).
 */
public record ChunkItem(long length, long owner, long stripeLen, long type, int ioAlign, int ioWidth,
                        int sectorSize, int numStripes, int subStripes, List<Stripe> stripes) {
    public static final int SIZE_WITHOUT_STRIPES = 48;
    public static final int OFFSET_NUM_STRIPES = 44;

    /** Size in bytes of a chunk item with {@code numStripes} stripes. */
    public static int size(int numStripes) {
        return SIZE_WITHOUT_STRIPES + numStripes * Stripe.SIZE;
    }

    /** Reads a chunk item at {@code offset}; {@code available} bounds it (a stripe count past it is corrupt). */
    public static ChunkItem read(ByteBuffer b, int offset, int available) {
        if (available < SIZE_WITHOUT_STRIPES) {
            throw new IllegalArgumentException("chunk item of " + available + " bytes, expected at least "
                    + SIZE_WITHOUT_STRIPES);
        }
        int numStripes = Short.toUnsignedInt(b.getShort(offset + OFFSET_NUM_STRIPES));
        if (numStripes == 0 || size(numStripes) > available) {
            throw new IllegalArgumentException("chunk item with " + numStripes + " stripes in " + available + " bytes");
        }
        List<Stripe> stripes = new ArrayList<>(numStripes);
        for (int i = 0; i < numStripes; i++) {
            stripes.add(Stripe.read(b, offset + SIZE_WITHOUT_STRIPES + i * Stripe.SIZE));
        }
        return new ChunkItem(b.getLong(offset), b.getLong(offset + 8), b.getLong(offset + 16), b.getLong(offset + 24),
                b.getInt(offset + 32), b.getInt(offset + 36), b.getInt(offset + 40), numStripes,
                Short.toUnsignedInt(b.getShort(offset + 46)), List.copyOf(stripes));
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(size(stripes.size())).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, length).putLong(8, owner).putLong(16, stripeLen).putLong(24, type).putInt(32, ioAlign)
                .putInt(36, ioWidth).putInt(40, sectorSize).putShort(44, (short) stripes.size())
                .putShort(46, (short) subStripes);
        for (int i = 0; i < stripes.size(); i++) {
            Stripe s = stripes.get(i);
            int at = SIZE_WITHOUT_STRIPES + i * Stripe.SIZE;
            b.putLong(at, s.devid()).putLong(at + 8, s.offset()).put(at + 16, s.devUuid());
        }
        return b.array();
    }
}
