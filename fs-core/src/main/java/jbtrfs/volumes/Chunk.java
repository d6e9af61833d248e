package jbtrfs.volumes;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Stripe;

/** A chunk: the logical range [{@code logical}, logical + length) and how it lies on the devices. */
public record Chunk(long logical, ChunkItem item) {

    public long length() { return item.length(); }

    public long end() { return logical + item.length(); }

    public boolean contains(long address) {
        return Long.compareUnsigned(address, logical) >= 0 && Long.compareUnsigned(address, end()) < 0;
    }

    /** How many full copies of each byte the profile keeps. */
    public int copies() {
        long p = item.type() & BlockGroupFlags.PROFILE_MASK;
        if (p == BlockGroupFlags.DUP || p == BlockGroupFlags.RAID1) return item.numStripes();
        if (p == BlockGroupFlags.RAID1C3 || p == BlockGroupFlags.RAID1C4) return item.numStripes();
        if (p == BlockGroupFlags.RAID10) return Math.max(1, item.subStripes());
        return 1;
    }

    /**
     * Bytes each stripe takes on its device (≈ btrfs_calc_stripe_length): the whole length for SINGLE, DUP and
     * the RAID1s, the length over the data stripes for the striped and parity profiles.
     */
    public long stripeLength() {
        long p = item.type() & BlockGroupFlags.PROFILE_MASK;
        int n = item.numStripes();
        int dataStripes;
        if (p == BlockGroupFlags.RAID0) dataStripes = n;
        else if (p == BlockGroupFlags.RAID10) dataStripes = n / Math.max(1, item.subStripes());
        else if (p == BlockGroupFlags.RAID5) dataStripes = n - 1;
        else if (p == BlockGroupFlags.RAID6) dataStripes = n - 2;
        else dataStripes = 1;
        return item.length() / Math.max(1, dataStripes);
    }

    /** stripe_len of every chunk (BTRFS_STRIPE_LEN). */
    static final long STRIPE_LEN = 64 * 1024;

    /** Whether the profile stripes data across devices in stripe_len units (RAID0, RAID10). */
    boolean striped() {
        long p = item.type() & BlockGroupFlags.PROFILE_MASK;
        return p == BlockGroupFlags.RAID0 || p == BlockGroupFlags.RAID10;
    }

    /**
     * Where copy {@code mirror} (0-based) of {@code address} lies: the stripe and the physical byte.
     * For striped profiles the caller must not cross a stripe_len boundary ({@link #contiguousBytes}).
     */
    Placement place(long address, int mirror) {
        long rel = address - logical;
        if (!striped()) {
            Stripe s = item.stripes().get(mirror);
            return new Placement(s.devid(), s.offset() + rel);
        }
        long stripeLen = item.stripeLen();
        long stripeNr = rel / stripeLen;
        long inStripe = rel % stripeLen;
        int groups = item.numStripes() / copies();
        int index = (int) (stripeNr % groups) * copies() + mirror;
        Stripe s = item.stripes().get(index);
        return new Placement(s.devid(), s.offset() + (stripeNr / groups) * stripeLen + inStripe);
    }

    /** Bytes from {@code address} that lie contiguously on one device stripe. */
    long contiguousBytes(long address) {
        long rel = address - logical;
        if (!striped()) return item.length() - rel;
        return item.stripeLen() - rel % item.stripeLen();
    }

    /** A physical place on one device. */
    record Placement(long devid, long physical) {
    }
}
