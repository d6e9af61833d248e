package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.device.BlockDevice;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.Parity;
import jbtrfs.volumes.Volume;

/**
 * One scrub of the device (≈ btrfs_scrub_dev): the superblock copies, then every copy of every chunk in the order
 * its dev extents lie on the device, 64 KiB stripe by stripe where the committed extent tree has extents. Each
 * stripe's tree blocks are verified as the kernel's scrub verifies them (bytenr, fsid, chunk tree uuid, checksum,
 * the extent item's generation) and its data sectors against the committed csum tree; a bad sector is read from
 * the other copies, and a good copy's bytes are written back over the bad one unless the scrub is read-only.
 * Each stripe runs under {@code fence}, which keeps commits out: the committed trees it reads stay the image's, and
 * no extent it verifies is freed and reused meanwhile (freed extents stay pinned until a commit).
 */
final class ScrubWalk {
    private static final Logger LOG = LoggerFactory.getLogger(ScrubWalk.class);
    /** BTRFS_STRIPE_LEN: the unit the kernel's scrub reads, counts and reports last_physical in. */
    static final int STRIPE_LEN = 64 * 1024;
    /** At most this many uncorrectable data errors keep their paths (each is also logged). */
    private static final int MAX_PATHS = 10_000;

    private static final int DATA_EXTENTS = 0;
    private static final int TREE_EXTENTS = 1;
    private static final int DATA_BYTES = 2;
    private static final int TREE_BYTES = 3;
    private static final int READ_ERRORS = 4;
    private static final int CSUM_ERRORS = 5;
    private static final int VERIFY_ERRORS = 6;
    private static final int NO_CSUM = 7;
    private static final int SUPER_ERRORS = 9;
    private static final int UNCORRECTABLE = 11;
    private static final int CORRECTED = 12;
    private static final int LAST_PHYSICAL = 13;

    /** The trees as of the last commit (read under the fence). */
    interface Trees {
        BTree committed(long id) throws FsException;
    }

    /**
     * What the scrub checks against: the image's identity, the device's size as its dev item gives it (superblock
     * copies past it are not the filesystem's), and the committed state.
     */
    record Identity(long devid, long deviceBytes, byte[] fsid, byte[] chunkTreeUuid, ChecksumType csumType,
                    int nodesize, int sectorsize, LongSupplier committedGeneration) {
        /** The same filesystem as seen by member {@code otherDevid} of {@code bytes}. */
        Identity of(long otherDevid, long bytes) {
            return new Identity(otherDevid, bytes, fsid, chunkTreeUuid, csumType, nodesize, sectorsize,
                    committedGeneration);
        }
    }

    private final Volume volume;
    private final Identity id;
    private final Trees trees;
    private final Lock fence;
    private final Lock superFence;
    private final boolean readOnly;
    private final ExtentPaths paths;
    private final long start;
    private final long end;
    private final long[] counters = new long[ScrubProgress.FIELDS];
    private final Set<String> uncorrectable = new LinkedHashSet<>();
    private volatile boolean canceled;

    /**
     * Scrubs the dev extents that overlap physical [{@code start}, {@code end}] (inclusive, as the ioctl's). The
     * stripes are read under {@code fence}, which keeps a commit from switching trees; the superblocks under
     * {@code superFence}, which keeps commits out altogether (a commit writes them while readers go on).
     */
    ScrubWalk(Volume volume, Identity id, Trees trees, Lock fence, Lock superFence, boolean readOnly,
              ExtentPaths paths, long start, long end) {
        this.volume = volume;
        this.id = id;
        this.trees = trees;
        this.fence = fence;
        this.superFence = superFence;
        this.readOnly = readOnly;
        this.paths = paths;
        this.start = start;
        this.end = end;
    }

    void cancel() { canceled = true; }

    boolean canceled() { return canceled; }

    synchronized ScrubProgress progress() { return ScrubProgress.of(counters.clone()); }

    synchronized List<String> uncorrectable() { return new ArrayList<>(uncorrectable); }

    /** Runs to the end or until canceled; an error that stops the walk (not a bad sector) is thrown. */
    void run() throws IOException {
        superFence.lock();
        try {
            scrubSupers();
        } finally {
            superFence.unlock();
        }
        for (Copy copy : copies()) {
            if (canceled) return;
            scrubCopy(copy);
        }
    }

    /**
     * One stripe of a chunk on this device: which copy it holds, where it starts, and for RAID0/RAID10 which of the
     * chunk's stripe groups it is (its 64 KiB units are every {@code groups}-th of the chunk's, from {@code group});
     * an unstriped copy is the one group of all units; for RAID5/6, {@code group} is the stripe's index in the chunk.
     */
    private record Copy(Chunk chunk, int mirror, long physical, int group, int groups) {
        /** The first unit of this copy at or after {@code unit}. */
        long ownUnitFrom(long unit) {
            if (!chunk.parity()) return unit + Math.floorMod(group - unit, (long) groups);
            // RAID5/6: unit u is data slot u % d of full stripe u / d; the slots rotate over the devices
            int d = chunk.dataStripes();
            long u = unit;
            while (chunk.slotOn(group, u / d) != u % d) u++;
            return u;
        }
    }

    /** Every copy of every chunk on this device in the range, in device order (the dev tree's order). */
    private List<Copy> copies() {
        List<Copy> out = new ArrayList<>();
        for (Chunk c : volume.chunks().chunks()) {
            List<Stripe> stripes = c.item().stripes();
            boolean striped = c.striped();
            int copies = c.copies();
            for (int m = 0; m < stripes.size(); m++) {
                Stripe s = stripes.get(m);
                if (s.devid() != id.devid()) continue;
                if (Long.compareUnsigned(s.offset() + c.stripeLength(), start) <= 0
                        || Long.compareUnsigned(s.offset(), end) > 0) {
                    continue;
                }
                // RAID10's stripes pair up: stripe m holds copy m % sub_stripes of group m / sub_stripes; a RAID5/6
                // stripe holds the data slots the rotation gives it, read as copy 0 (the later copies rebuild it)
                if (c.parity()) out.add(new Copy(c, 0, s.offset(), m, stripes.size()));
                else if (striped) out.add(new Copy(c, m % copies, s.offset(), m / copies, stripes.size() / copies));
                else out.add(new Copy(c, m, s.offset(), 0, 1));
            }
        }
        out.sort(Comparator.comparingLong(Copy::physical));
        return out;
    }

    /** The superblock copies that lie on the device: checksum, place, magic and the committed generation. */
    private void scrubSupers() throws IOException {
        BlockDevice device = volume.members().get(id.devid());
        long limit = Math.min(device.size(), id.deviceBytes());
        for (long off : SuperBlock.MIRROR_OFFSETS) {
            if (off + SuperBlock.SIZE > limit) break;
            ByteBuffer b = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
            String problem;
            try {
                device.read(off, b);
                b.clear();
                problem = superProblem(b, off);
            } catch (IOException e) {
                problem = "read failed: " + e.getMessage();
            }
            if (problem != null) {
                LOG.warn("scrub: superblock at {}: {}", off, problem);
                add(SUPER_ERRORS, 1);
            }
        }
    }

    private String superProblem(ByteBuffer b, long off) {
        if (!id.csumType().matches(b, SuperBlock.CSUM_SIZE, SuperBlock.SIZE - SuperBlock.CSUM_SIZE, b, 0)) {
            return "checksum mismatch";
        }
        if (b.getLong(SuperBlock.OFFSET_BYTENR) != off) return "bytenr " + b.getLong(SuperBlock.OFFSET_BYTENR);
        if (b.getLong(SuperBlock.OFFSET_MAGIC) != SuperBlock.MAGIC) return "no magic";
        long gen = b.getLong(SuperBlock.OFFSET_GENERATION);
        long want = id.committedGeneration().getAsLong();
        return gen == want ? null : "generation " + gen + ", expected " + want;
    }

    /** The stripes of one copy that hold extents, each under the fence. */
    private void scrubCopy(Copy copy) throws IOException {
        Chunk chunk = copy.chunk();
        long cur = chunk.logical();
        while (Long.compareUnsigned(cur, chunk.end()) < 0 && !canceled) {
            fence.lock();
            try {
                cur = scrubNextStripe(copy, cur);
            } finally {
                fence.unlock();
            }
            if (cur == -1) break;
        }
        if (!chunk.parity()) return;
        long rows = chunk.stripeLength() / STRIPE_LEN;
        for (long row = 0; row < rows && !canceled; row++) {
            int slot = chunk.slotOn(copy.group(), row);
            if (slot < chunk.dataStripes()) continue;
            fence.lock();
            try {
                long r = row;
                volume.withParityLock(() -> scrubParity(copy, r, slot));
            } finally {
                fence.unlock();
            }
        }
    }

    /**
     * P or Q of full stripe {@code row} on this device, where the stripe holds extents (≈ scrub_raid56_parity_stripe):
     * recomputed from the data and, where it differs on a repairing scrub, written over (counted nowhere, as the
     * kernel's). Only parity of data that verifies is rewritten: parity made from bad data would spoil the rebuild.
     */
    private void scrubParity(Copy copy, long row, int slot) throws IOException {
        Chunk chunk = copy.chunk();
        long rowStart = chunk.logical() + row * chunk.dataStripes() * STRIPE_LEN;
        checkParity(chunk, rowStart, slot, id.devid(), copy.physical() + row * STRIPE_LEN);
    }

    /** After a data repair in the full stripe holding {@code logical}: its P and Q checked again, wherever they lie. */
    private void recheckParity(Chunk chunk, long logical) throws IOException {
        long rowBytes = (long) chunk.dataStripes() * STRIPE_LEN;
        long rowStart = chunk.logical() + (logical - chunk.logical()) / rowBytes * rowBytes;
        for (int slot = chunk.dataStripes(); slot < chunk.item().numStripes(); slot++) {
            Chunk.Placement place = chunk.paritySlot(rowStart, slot);
            if (!volume.members().containsKey(place.devid())) continue;
            int s = slot;
            volume.withParityLock(() -> checkParity(chunk, rowStart, s, place.devid(), place.physical()));
        }
    }

    /** P or Q ({@code slot}) of the full stripe at {@code rowStart}, at {@code physical} on member {@code devid}. */
    private void checkParity(Chunk chunk, long rowStart, int slot, long devid, long physical) throws IOException {
        int d = chunk.dataStripes();
        long rowEnd = rowStart + (long) d * STRIPE_LEN;
        BTree extentTree = trees.committed(ObjectIds.EXTENT_TREE);
        if (firstExtent(extentTree, rowStart, rowEnd) == null) return;
        byte[][] data = new byte[d][];
        for (int i = 0; i < d; i++) {
            long unitStart = rowStart + (long) i * STRIPE_LEN;
            if (!unitVerifies(extentTree, unitStart, unitStart + STRIPE_LEN)) {
                LOG.warn("scrub: parity of the full stripe at logical {} not checked: its data does not verify",
                        rowStart);
                return;
            }
            ByteBuffer b = ByteBuffer.allocate(STRIPE_LEN);
            volume.read(unitStart, b, 0);
            data[i] = b.array();
        }
        boolean isP = slot == d;
        byte[] want = isP ? Parity.p(data) : Parity.q(data);
        ByteBuffer have = ByteBuffer.allocate(STRIPE_LEN);
        volume.members().get(devid).read(physical, have);
        if (Arrays.equals(want, have.array())) return;
        LOG.warn("scrub: {} of the full stripe at logical {} is not that of its data{}", isP ? "P" : "Q", rowStart,
                readOnly ? "" : "; rewritten");
        if (readOnly || !volume.repairsAllowed()) return;
        ByteBuffer all = ByteBuffer.allocate(d * STRIPE_LEN);
        for (byte[] x : data) all.put(x);
        volume.repairCopy(rowStart, all.flip(), isP ? 1 : 2);
    }

    /** Whether the data stripe [{@code from}, {@code to}) reads and verifies (tree blocks, checksums). */
    private boolean unitVerifies(BTree extentTree, long from, long to) throws IOException {
        List<ScrubStripe.Extent> extents = new ArrayList<>();
        Cursor c = firstExtent(extentTree, from, to);
        while (c != null && c.valid() && Long.compareUnsigned(c.key().objectid(), to) < 0) {
            if (isExtent(c.key())) {
                Extent e = extent(c);
                extents.add(new ScrubStripe.Extent(e.start(), e.length(), e.tree(), e.generation()));
            }
            c.next();
        }
        return new ScrubStripe(this, volume, id, 0, from, to, extents, csums(from, to)).clean();
    }

    /** An extent item: start, length, flags (DATA, TREE_BLOCK) and generation. */
    private record Extent(long start, long length, long flags, long generation) {
        long end() { return start + length; }

        boolean tree() { return (flags & ExtentItem.FLAG_TREE_BLOCK) != 0; }
    }

    /** Scrubs the stripe holding the first extent at or after {@code from}; returns where to go on, -1 at the end. */
    private long scrubNextStripe(Copy copy, long from) throws IOException {
        Chunk chunk = copy.chunk();
        BTree extentTree = trees.committed(ObjectIds.EXTENT_TREE);
        long stripeStart;
        Cursor c;
        while (true) {
            c = firstExtent(extentTree, from, chunk.end());
            if (c == null) return -1;
            long unit = (Math.max(extent(c).start(), from) - chunk.logical()) / STRIPE_LEN;
            long own = copy.ownUnitFrom(unit);
            stripeStart = chunk.logical() + own * STRIPE_LEN;
            if (own == unit) break;
            // the extent's unit lies on another stripe group (RAID0/RAID10): on from this copy's next unit
            if (Long.compareUnsigned(stripeStart, chunk.end()) >= 0) return -1;
            from = stripeStart;
        }
        long stripeEnd = Math.min(stripeStart + STRIPE_LEN, chunk.end());
        List<Extent> extents = new ArrayList<>();
        while (c.valid() && Long.compareUnsigned(c.key().objectid(), stripeEnd) < 0) {
            if (isExtent(c.key())) extents.add(extent(c));
            c.next();
        }
        boolean repaired = new ScrubStripe(this, volume, id, copy.mirror(), stripeStart, stripeEnd, extents.stream()
                .map(e -> new ScrubStripe.Extent(e.start(), e.length(), e.tree(), e.generation())).toList(),
                csums(stripeStart, stripeEnd)).run(!readOnly);
        // the member holding P/Q may have checked this full stripe before the repair (and skipped it): check again
        if (repaired && chunk.parity()) recheckParity(chunk, stripeStart);
        set(LAST_PHYSICAL, volume.physical(stripeStart, copy.mirror()) + STRIPE_LEN);
        return stripeStart + STRIPE_LEN;
    }

    /** The committed data checksums of [{@code from}, {@code to}): per sector, present or not. */
    private ScrubStripe.Csums csums(long from, long to) throws FsException {
        int sectors = (int) ((to - from) / id.sectorsize());
        byte[] out = new byte[sectors * id.csumType().size()];
        boolean[] present = new boolean[sectors];
        BTree csumTree;
        try {
            csumTree = trees.committed(ObjectIds.CSUM_TREE);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            csumTree = null;
        }
        BTree t = csumTree;
        new CsumTree(() -> t, id.sectorsize(), id.csumType().size()).lookup(from, sectors, out, present);
        return new ScrubStripe.Csums(out, present);
    }

    private static boolean isExtent(Key k) {
        return k.type() == KeyType.EXTENT_ITEM || k.type() == KeyType.METADATA_ITEM;
    }

    private Extent extent(Cursor c) throws CorruptBlockException {
        Key k = c.key();
        if (c.dataSize() < ExtentItem.SIZE) throw c.corrupt("extent item of " + c.dataSize() + " bytes");
        ByteBuffer b = c.buffer();
        long length = k.type() == KeyType.METADATA_ITEM ? id.nodesize() : k.offset();
        return new Extent(k.objectid(), length, b.getLong(c.dataOffset() + 16), b.getLong(c.dataOffset() + 8));
    }

    /** A cursor at the first extent item that overlaps [{@code from}, {@code to}), or null. */
    private Cursor firstExtent(BTree tree, long from, long to) throws FsException {
        Cursor back = tree.seekFloor(new Key(from, 0, 0));
        while (back.valid() && !isExtent(back.key())) back.prev();
        if (back.valid() && Long.compareUnsigned(extent(back).end(), from) > 0) return back;
        Cursor c = tree.seek(new Key(from, 0, 0));
        while (c.valid() && Long.compareUnsigned(c.key().objectid(), to) < 0) {
            if (isExtent(c.key())) return c;
            c.next();
        }
        return null;
    }

    /** What one stripe found, added to the counters at once (as scrub_stripe_report_errors). */
    synchronized void report(ScrubStripe.Report r) {
        counters[DATA_EXTENTS] += r.dataExtents();
        counters[TREE_EXTENTS] += r.treeExtents();
        counters[DATA_BYTES] += (long) r.dataSectors() * id.sectorsize();
        counters[TREE_BYTES] += (long) r.treeSectors() * id.sectorsize();
        counters[NO_CSUM] += r.noCsum();
        counters[READ_ERRORS] += r.readErrors();
        counters[CSUM_ERRORS] += r.csumErrors();
        counters[VERIFY_ERRORS] += r.verifyErrors();
        counters[UNCORRECTABLE] += r.uncorrectable();
        counters[CORRECTED] += r.corrected();
    }

    /** Paths of the files that use the data sector at {@code logical} of the extent at {@code extentStart}. */
    void uncorrectableData(long extentStart, long logical) {
        List<String> found;
        try {
            found = paths.of(trees, extentStart);
        } catch (FsException e) {
            found = List.of("(paths unknown: " + e.getMessage() + ")");
        }
        if (found.isEmpty()) found = List.of("(no file refers to it)");
        for (String p : found) {
            LOG.error("scrub: uncorrectable data error at logical {}: {}", logical, p);
            synchronized (this) {
                if (uncorrectable.size() < MAX_PATHS) uncorrectable.add("logical " + logical + ": " + p);
            }
        }
    }

    private synchronized void add(int field, long n) { counters[field] += n; }

    private synchronized void set(int field, long v) { counters[field] = v; }
}
