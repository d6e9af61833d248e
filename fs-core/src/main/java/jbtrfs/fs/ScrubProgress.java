package jbtrfs.fs;

/**
 * struct btrfs_scrub_progress, the counters a scrub reports (include/uapi/linux/btrfs.h), in its field order.
 * Extents and bytes count every copy scrubbed (a DUP block twice); errors count sectors, as the kernel's scrub
 * does; {@code noCsum} counts data sectors without a checksum; {@code lastPhysical} is where on the device the
 * last 64 KiB stripe scrubbed ends. csum_discards, malloc_errors and unverified_errors stay 0, as on the kernel.
 */
public record ScrubProgress(long dataExtentsScrubbed, long treeExtentsScrubbed, long dataBytesScrubbed,
                            long treeBytesScrubbed, long readErrors, long csumErrors, long verifyErrors, long noCsum,
                            long csumDiscards, long superErrors, long mallocErrors, long uncorrectableErrors,
                            long correctedErrors, long lastPhysical, long unverifiedErrors) {
    /** The struct's 15 u64 fields. */
    public static final int FIELDS = 15;

    /** The fields in the struct's order. */
    public long[] toArray() {
        return new long[] {dataExtentsScrubbed, treeExtentsScrubbed, dataBytesScrubbed, treeBytesScrubbed, readErrors,
            csumErrors, verifyErrors, noCsum, csumDiscards, superErrors, mallocErrors, uncorrectableErrors,
            correctedErrors, lastPhysical, unverifiedErrors};
    }

    /** From the 15 fields in the struct's order. */
    public static ScrubProgress of(long[] f) {
        return new ScrubProgress(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12],
                f[13], f[14]);
    }

    /** The counters of two devices' scrubs summed (last_physical: the larger), as btrfs scrub status totals a set. */
    public ScrubProgress plus(ScrubProgress other) {
        long[] a = toArray();
        long[] b = other.toArray();
        for (int i = 0; i < FIELDS; i++) a[i] += b[i];
        a[13] = Math.max(lastPhysical, other.lastPhysical);
        return of(a);
    }

    /** Bytes scrubbed, data and tree blocks (what btrfs scrub status shows). */
    public long bytesScrubbed() {
        return dataBytesScrubbed + treeBytesScrubbed;
    }

    /** Whether any error was met (read, csum, verify, super) or left (uncorrectable). */
    public boolean errors() {
        return readErrors + csumErrors + verifyErrors + superErrors + correctedErrors + uncorrectableErrors != 0;
    }
}
