package jbtrfs.fs;

/**
 * Arithmetic on the ends of file ranges. A file's last byte may sit at 2^63 - 1 (the kernel's MAX_LFS_FILESIZE),
 * so the end of its last sector, and of the extent that holds it, is 2^63: a signed long holds that only as
 * Long.MIN_VALUE. Btrfs keeps file offsets as u64, so range ends are rounded, compared and bounded unsigned here;
 * differences between an end and a start in the file stay right as plain subtraction.
 */
final class FileOffsets {
    /** The end of a range "to the end of the file", past any extent's end: (u64)-1, as the kernel passes. */
    static final long TO_END = -1L;

    private FileOffsets() {
    }

    /** {@code offset} (0 to 2^63, unsigned) rounded up to a multiple of {@code sectorsize}: at most 2^63. */
    static long roundUp(long offset, int sectorsize) {
        long rest = Long.remainderUnsigned(offset, sectorsize);
        return rest == 0 ? offset : offset + (sectorsize - rest);
    }

    /** Whether end or offset {@code a} lies before {@code b}, both unsigned. */
    static boolean before(long a, long b) {
        return Long.compareUnsigned(a, b) < 0;
    }

    /** The smaller of two ends or offsets, unsigned. */
    static long min(long a, long b) {
        return before(a, b) ? a : b;
    }

    /** The larger of two ends or offsets, unsigned. */
    static long max(long a, long b) {
        return before(a, b) ? b : a;
    }
}
