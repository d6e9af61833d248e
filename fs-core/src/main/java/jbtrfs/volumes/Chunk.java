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
        // ways to read a RAID5/6 data stripe: itself, then rebuilt (from P; for RAID6 from Q, and from P+Q with each
        // other data stripe taken as lost too): as many as the kernel's btrfs_num_copies gives
        if (p == BlockGroupFlags.RAID5) return 2;
        if (p == BlockGroupFlags.RAID6) return item.numStripes();
        return 1;
    }

    /** Whether the profile keeps parity (RAID5, RAID6). */
    public boolean parity() {
        long p = item.type() & BlockGroupFlags.PROFILE_MASK;
        return p == BlockGroupFlags.RAID5 || p == BlockGroupFlags.RAID6;
    }

    /** The data stripes of each full stripe of a parity profile (num_stripes less one for RAID5, two for RAID6). */
    public int dataStripes() {
        long p = item.type() & BlockGroupFlags.PROFILE_MASK;
        return item.numStripes() - (p == BlockGroupFlags.RAID6 ? 2 : 1);
    }

    /**
     * Where slot {@code slot} of the full stripe holding {@code address} lies at the same offset in its stripe: slots
     * 0..dataStripes-1 are the data, then P, then Q. The slots rotate by one device per full stripe, as the kernel's
     * map of a RAID5/6 full stripe does.
     */
    public Placement paritySlot(long address, int slot) {
        long rel = address - logical;
        long stripeLen = item.stripeLen();
        long fullStripe = rel / stripeLen / dataStripes();
        Stripe s = item.stripes().get((int) ((slot + fullStripe) % item.numStripes()));
        return new Placement(s.devid(), s.offset() + fullStripe * stripeLen + rel % stripeLen);
    }

    /**
     * The slot stripe {@code index} holds in full stripe {@code fullStripe} of a parity profile: below
     * {@link #dataStripes} a data stripe, then P, then Q (the rotation of {@link #paritySlot} seen from a device).
     */
    public int slotOn(int index, long fullStripe) {
        return (int) Math.floorMod(index - fullStripe, (long) item.numStripes());
    }

    /** Which data slot of its full stripe {@code address} lies in (parity profiles). */
    int dataSlot(long address) {
        return (int) ((address - logical) / item.stripeLen() % dataStripes());
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
    public boolean striped() {
        long p = item.type() & BlockGroupFlags.PROFILE_MASK;
        return p == BlockGroupFlags.RAID0 || p == BlockGroupFlags.RAID10;
    }

    /**
     * Where copy {@code mirror} (0-based) of {@code address} lies: the stripe and the physical byte (for parity
     * profiles the data itself, whatever the mirror). For striped and parity profiles the caller must not cross a
     * stripe_len boundary ({@link #contiguousBytes}).
     */
    Placement place(long address, int mirror) {
        long rel = address - logical;
        if (parity()) return paritySlot(address, dataSlot(address));
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
        if (!striped() && !parity()) return item.length() - rel;
        return item.stripeLen() - rel % item.stripeLen();
    }

    /** A physical place on one device. */
    public record Placement(long devid, long physical) {
    }
}
