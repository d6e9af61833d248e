package jbtrfs.volumes;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.device.IoRequest;

/**
 * The writes of one batch into one RAID5/6 chunk with the parity they change (≈ raid56.c's full-stripe writes and
 * read-modify-write): the batch's ranges are gathered per full stripe first, so ranges of one full stripe make one
 * read-modify-write and one parity write, never two parity writes each from the other's stale data. Of a full stripe
 * the batch covers whole nothing is read; of a partial one the bytes of the other data stripes over the rows touched
 * are read, and P (and for RAID6 Q) are computed from all the data, as the kernel computes them (old parity is never
 * read). Data goes out as copy 0, P as copy 1, Q as copy 2.
 */
final class Raid56Writes {
    private final Volume volume;
    private final Chunk chunk;
    private final int dataStripes;
    private final int stripeLen;
    private final TreeMap<Long, FullStripe> byNumber = new TreeMap<>();

    /** One full stripe's new bytes: each data slot's stripe_len unit, the ranges written in it, the rows touched. */
    private static final class FullStripe {
        final byte[][] data;
        final List<List<int[]>> written = new ArrayList<>();
        int lo = Integer.MAX_VALUE;
        int hi;

        FullStripe(int dataStripes) {
            data = new byte[dataStripes][];
            for (int i = 0; i < dataStripes; i++) written.add(new ArrayList<>());
        }
    }

    Raid56Writes(Volume volume, Chunk chunk) {
        this.volume = volume;
        this.chunk = chunk;
        this.dataStripes = chunk.dataStripes();
        this.stripeLen = (int) chunk.item().stripeLen();
    }

    /** Adds the write of {@code src} at {@code logical} (inside the chunk); a later range over an earlier one wins. */
    void add(long logical, ByteBuffer src) {
        long fullLen = (long) stripeLen * dataStripes;
        int done = 0;
        int length = src.remaining();
        while (done < length) {
            long rel = logical + done - chunk.logical();
            int off = (int) (rel % stripeLen);
            int n = Math.min(length - done, stripeLen - off);
            int slot = (int) (rel / stripeLen % dataStripes);
            FullStripe fs = byNumber.computeIfAbsent(rel / fullLen, k -> new FullStripe(dataStripes));
            if (fs.data[slot] == null) fs.data[slot] = new byte[stripeLen];
            src.get(src.position() + done, fs.data[slot], off, n);
            fs.written.get(slot).add(new int[] {off, off + n});
            fs.lo = Math.min(fs.lo, off);
            fs.hi = Math.max(fs.hi, off + n);
            done += n;
        }
    }

    /** Reads what each partial full stripe lacks, computes its parity; the data and parity writes. */
    List<Volume.MemberWrite> plan() throws IOException {
        List<Volume.MemberWrite> out = new ArrayList<>();
        long fullLen = (long) stripeLen * dataStripes;
        for (var e : byNumber.entrySet()) {
            FullStripe fs = e.getValue();
            long base = chunk.logical() + e.getKey() * fullLen;
            byte[][] rows = new byte[dataStripes][];
            for (int slot = 0; slot < dataStripes; slot++) {
                List<int[]> merged = merge(fs.written.get(slot));
                if (fs.data[slot] == null) fs.data[slot] = new byte[stripeLen];
                // the rest of the touched rows comes from the disk (or the write still queued there)
                int at = fs.lo;
                for (int[] w : merged) {
                    if (w[0] > at) readSlot(base, slot, fs.data[slot], at, w[0]);
                    at = Math.max(at, w[1]);
                }
                if (at < fs.hi) readSlot(base, slot, fs.data[slot], at, fs.hi);
                for (int[] w : merged) {
                    out.add(write(base + w[0], slot, 0, ByteBuffer.wrap(fs.data[slot], w[0], w[1] - w[0]).slice()));
                }
                rows[slot] = Arrays.copyOfRange(fs.data[slot], fs.lo, fs.hi);
            }
            out.add(write(base + fs.lo, dataStripes, 1, ByteBuffer.wrap(Parity.p(rows))));
            if (chunk.item().numStripes() - dataStripes == 2) {
                out.add(write(base + fs.lo, dataStripes + 1, 2, ByteBuffer.wrap(Parity.q(rows))));
            }
        }
        return out;
    }

    private void readSlot(long base, int slot, byte[] into, int from, int to) throws IOException {
        volume.readAt(chunk.paritySlot(base + from, slot), base + from, ByteBuffer.wrap(into, from, to - from).slice(),
                false);
    }

    /** The write of {@code src} to slot {@code slot} of the full stripe at the row of {@code address}. */
    private Volume.MemberWrite write(long address, int slot, int mirror, ByteBuffer src) throws FsException {
        Chunk.Placement place = chunk.paritySlot(address, slot);
        if (!volume.members().containsKey(place.devid())) {
            throw new FsException(Errno.EIO, "logical " + Long.toUnsignedString(address) + " lies on device "
                    + place.devid() + ", which is missing");
        }
        return new Volume.MemberWrite(place.devid(), mirror, IoRequest.write(place.physical(), src));
    }

    /** The ranges sorted and joined where they touch or overlap. */
    private static List<int[]> merge(List<int[]> ranges) {
        List<int[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<int[]> out = new ArrayList<>();
        for (int[] r : sorted) {
            int[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
            else out.add(r.clone());
        }
        return out;
    }
}
