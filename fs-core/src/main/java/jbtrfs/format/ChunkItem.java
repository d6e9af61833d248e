package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
            throw new MalformedItemException("chunk item of " + available + " bytes, expected at least "
                    + SIZE_WITHOUT_STRIPES);
        }
        int numStripes = Short.toUnsignedInt(b.getShort(offset + OFFSET_NUM_STRIPES));
        if (numStripes == 0 || size(numStripes) > available) {
            throw new MalformedItemException("chunk item with " + numStripes + " stripes in " + available + " bytes");
        }
        List<Stripe> stripes = new ArrayList<>(numStripes);
        for (int i = 0; i < numStripes; i++) {
            stripes.add(Stripe.read(b, offset + SIZE_WITHOUT_STRIPES + i * Stripe.SIZE));
        }
        return new ChunkItem(b.getLong(offset), b.getLong(offset + 8), b.getLong(offset + 16), b.getLong(offset + 24),
                b.getInt(offset + 32), b.getInt(offset + 36), b.getInt(offset + 40), numStripes,
                Short.toUnsignedInt(b.getShort(offset + 46)), List.copyOf(stripes));
    }

    /** BTRFS_STRIPE_LEN: the only stripe length the kernel accepts. */
    public static final long STRIPE_LEN = 64 << 10;

    /**
     * The kernel's btrfs_check_chunk_valid for the chunk at {@code logical} on a filesystem of {@code sectorsize}:
     * a length and start aligned to sectors that do not wrap past 2^64, stripe_len 64 KiB, the filesystem's sector
     * size, known type bits with one block group type and at most one profile, and a stripe count that profile
     * can have. Returns the problem, or null. (Placement on the device is checked at mount, against its size.)
     */
    public String problem(long logical, int sectorsize) {
        if (length == 0 || length % sectorsize != 0) {
            return "length " + Long.toUnsignedString(length) + " is not a non-zero multiple of " + sectorsize;
        }
        if (logical % sectorsize != 0) return "start " + Long.toUnsignedString(logical) + " is not sector-aligned";
        if (Long.compareUnsigned(logical + length, logical) < 0) {
            return "start " + Long.toUnsignedString(logical) + " + length " + Long.toUnsignedString(length)
                    + " wraps past 2^64";
        }
        if (stripeLen != STRIPE_LEN) return "stripe_len " + Long.toUnsignedString(stripeLen) + ", expected " + STRIPE_LEN;
        if (sectorSize != sectorsize) return "sector_size " + Integer.toUnsignedString(sectorSize) + ", expected " + sectorsize;
        if ((type & ~(BlockGroupFlags.TYPE_MASK | BlockGroupFlags.PROFILE_MASK)) != 0) {
            return "type 0x" + Long.toHexString(type) + " has unknown bits";
        }
        if ((type & BlockGroupFlags.TYPE_MASK) == 0
                || ((type & BlockGroupFlags.SYSTEM) != 0 && (type & BlockGroupFlags.TYPE_MASK) != BlockGroupFlags.SYSTEM)) {
            return "type 0x" + Long.toHexString(type) + " is not one of DATA, METADATA (or both, mixed), SYSTEM";
        }
        long profile = type & BlockGroupFlags.PROFILE_MASK;
        if (Long.bitCount(profile) > 1) return "type 0x" + Long.toHexString(type) + " has more than one profile";
        int min = profile == BlockGroupFlags.RAID1 || profile == BlockGroupFlags.RAID5 ? 2
                : profile == BlockGroupFlags.RAID6 || profile == BlockGroupFlags.RAID1C3 ? 3
                : profile == BlockGroupFlags.RAID1C4 ? 4 : profile == BlockGroupFlags.RAID10 ? 2 : 1;
        boolean exact = profile == 0 || profile == BlockGroupFlags.DUP;
        int want = profile == BlockGroupFlags.DUP ? 2 : 1;
        if (exact ? numStripes != want : numStripes < min) {
            return numStripes + " stripes, expected " + (exact ? want : "at least " + min) + " for its profile";
        }
        if (profile == BlockGroupFlags.RAID10 && (subStripes != 2 || numStripes % 2 != 0)) {
            return "RAID10 with " + numStripes + " stripes and sub_stripes " + subStripes + ", expected sub_stripes 2";
        }
        return null;
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(size(stripes.size())).order(ByteOrder.LITTLE_ENDIAN);
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
