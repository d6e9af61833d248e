package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.format.Header;
import jbtrfs.volumes.Volume;

/**
 * One 64 KiB stripe of one copy (≈ struct scrub_stripe): read at once, every tree block and checksummed data sector
 * of its extents verified, each bad one read again from the other copies, the repaired sectors written back over
 * this copy when asked, and the counts handed to the walk. Errors are counted in sectors, as the kernel's.
 */
final class ScrubStripe {
    private static final Logger LOG = LoggerFactory.getLogger(ScrubStripe.class);

    /** An extent of the stripe: where, whether a tree block, and the generation its extent item records. */
    record Extent(long start, long length, boolean tree, long generation) {
    }

    /** The stripe's data checksums, per sector. */
    record Csums(byte[] sums, boolean[] present) {
    }

    /** What the stripe found (scrub_stripe_report_errors' figures). */
    record Report(int dataExtents, int treeExtents, int dataSectors, int treeSectors, int noCsum, int readErrors,
                  int csumErrors, int verifyErrors, int uncorrectable, int corrected) {
    }

    private final ScrubWalk walk;
    private final Volume volume;
    private final ScrubWalk.Identity id;
    private final int mirror;
    private final long start;
    private final int sectors;
    private final int ss;
    private final List<Extent> extents;
    private final Csums csums;
    /** Per sector: the extent covering it (-1 none). */
    private final int[] owner;
    private final boolean[] ioError;
    private final boolean[] csumError;
    private final boolean[] metaError;
    private final ByteBuffer buf;

    ScrubStripe(ScrubWalk walk, Volume volume, ScrubWalk.Identity id, int mirror, long start, long end,
                List<Extent> extents, Csums csums) {
        this.walk = walk;
        this.volume = volume;
        this.id = id;
        this.mirror = mirror;
        this.start = start;
        this.ss = id.sectorsize();
        this.sectors = (int) ((end - start) / ss);
        this.extents = extents;
        this.csums = csums;
        this.owner = new int[sectors];
        this.ioError = new boolean[sectors];
        this.csumError = new boolean[sectors];
        this.metaError = new boolean[sectors];
        this.buf = ByteBuffer.allocate(sectors * ss).order(ByteOrder.LITTLE_ENDIAN);
        Arrays.fill(owner, -1);
        for (int e = 0; e < extents.size(); e++) {
            Extent x = extents.get(e);
            int from = (int) Math.max(0, (x.start() - start) / ss);
            int to = (int) Math.min(sectors, (x.start() + x.length() - start + ss - 1) / ss);
            for (int i = from; i < to; i++) owner[i] = e;
        }
    }

    /** Whether this copy reads and verifies with no error (nothing counted, nothing repaired). */
    boolean clean() {
        try {
            read(mirror, start, buf.duplicate());
        } catch (IOException e) {
            return false;
        }
        verifyAll();
        return count(errors()) == 0;
    }

    /**
     * Verifies, repairs from the other copies, writes the repairs back when {@code writeBack}, and reports; whether
     * a repair was written.
     */
    boolean run(boolean writeBack) throws IOException {
        try {
            read(mirror, start, buf.duplicate());
        } catch (IOException e) {
            LOG.warn("scrub: read error at logical {} on copy {}: {}", start, mirror + 1, e.getMessage());
            for (int i = 0; i < sectors; i++) ioError[i] = owner[i] >= 0;
        }
        verifyAll();
        boolean[] initial = errors();
        int readErrors = count(ioError);
        int csumErrors = count(csumError);
        int verifyErrors = count(metaError);
        if (readErrors + csumErrors + verifyErrors > 0) repairFromOtherCopies();
        boolean[] repaired = new boolean[sectors];
        for (int i = 0; i < sectors; i++) repaired[i] = initial[i] && !bad(i);
        boolean wrote = writeBack && volume.repairsAllowed() && count(repaired) > 0;
        if (wrote) writeBack(repaired);
        int dataExtents = 0;
        int treeExtents = 0;
        for (Extent x : extents) {
            if (x.tree()) treeExtents++;
            else dataExtents++;
        }
        int dataSectors = 0;
        int treeSectors = 0;
        int noCsum = 0;
        for (int i = 0; i < sectors; i++) {
            if (owner[i] < 0) continue;
            if (extents.get(owner[i]).tree()) {
                treeSectors++;
            } else {
                dataSectors++;
                if (!csums.present()[i]) noCsum++;
            }
        }
        int uncorrectable = 0;
        for (int i = 0; i < sectors; i++) {
            if (!bad(i)) continue;
            uncorrectable++;
            Extent x = extents.get(owner[i]);
            if (!x.tree()) walk.uncorrectableData(x.start(), start + (long) i * ss);
            else if (i == 0 || owner[i - 1] != owner[i]) {
                LOG.error("scrub: uncorrectable tree block at logical {} (copy {})", x.start(), mirror + 1);
            }
        }
        walk.report(new Report(dataExtents, treeExtents, dataSectors, treeSectors, noCsum, readErrors, csumErrors,
                verifyErrors, uncorrectable, count(repaired)));
        return wrote;
    }

    private void read(int copy, long logical, ByteBuffer dst) throws IOException {
        volume.read(logical, dst, copy);
    }

    /** Verifies every tree block that starts in the stripe and every data sector with a checksum. */
    private void verifyAll() {
        for (int i = 0; i < sectors; i++) {
            if (owner[i] < 0 || ioError[i]) continue;
            Extent x = extents.get(owner[i]);
            if (x.tree()) {
                if (x.start() != start + (long) i * ss) continue; // a block begins at its first sector
                String problem = treeBlockProblem(buf, i * ss, x);
                if (problem != null) {
                    LOG.warn("scrub: tree block {} copy {}: {}", x.start(), mirror + 1, problem);
                    markBlock(i, x, metaError);
                }
            } else if (!dataSectorGood(buf, i * ss, i)) {
                LOG.warn("scrub: checksum error at logical {} copy {}", start + (long) i * ss, mirror + 1);
                csumError[i] = true;
            }
        }
    }

    private void markBlock(int first, Extent x, boolean[] bits) {
        int n = (int) Math.min(sectors - first, x.length() / ss);
        for (int j = first; j < first + n; j++) bits[j] = true;
    }

    /** The kernel's scrub checks of a tree block (scrub_verify_one_metadata), null when it passes. */
    private String treeBlockProblem(ByteBuffer b, int off, Extent x) {
        int nodesize = id.nodesize();
        if (off + nodesize > b.capacity()) return "crosses the stripe's end";
        long bytenr = b.getLong(off + Header.OFFSET_BYTENR);
        if (bytenr != x.start()) return "bytenr " + bytenr + ", expected " + x.start();
        if (b.slice(off + Header.OFFSET_FSID, 16).mismatch(ByteBuffer.wrap(id.fsid())) != -1) return "fsid mismatch";
        if (b.slice(off + Header.OFFSET_CHUNK_TREE_UUID, 16).mismatch(ByteBuffer.wrap(id.chunkTreeUuid())) != -1) {
            return "chunk tree uuid mismatch";
        }
        if (!id.csumType().matches(b, off + Header.CSUM_START, nodesize - Header.CSUM_START, b,
                off + Header.OFFSET_CSUM)) {
            return id.csumType().displayName() + " checksum mismatch";
        }
        long gen = b.getLong(off + Header.OFFSET_GENERATION);
        return gen == x.generation() ? null : "generation " + gen + ", expected " + x.generation();
    }

    private boolean dataSectorGood(ByteBuffer b, int off, int sector) {
        if (!csums.present()[sector]) return true;
        int size = id.csumType().size();
        return id.csumType().matches(b, off, ss, ByteBuffer.wrap(csums.sums()), sector * size);
    }

    private boolean bad(int i) {
        return ioError[i] || csumError[i] || metaError[i];
    }

    private boolean[] errors() {
        boolean[] out = new boolean[sectors];
        for (int i = 0; i < sectors; i++) out[i] = bad(i);
        return out;
    }

    /** Each bad tree block or data sector read from the other copies until one verifies; its bytes go into buf. */
    private void repairFromOtherCopies() throws IOException {
        int copies = volume.copies(start);
        for (int i = 0; i < sectors; i++) {
            if (!bad(i)) continue;
            Extent x = extents.get(owner[i]);
            boolean tree = x.tree();
            if (tree && x.start() != start + (long) i * ss) continue; // only whole blocks are repaired
            int off = i * ss;
            int len = tree ? (int) Math.min(id.nodesize(), (long) buf.capacity() - off) : ss;
            ByteBuffer other = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
            for (int m = 0; m < copies; m++) {
                if (m == mirror) continue;
                other.clear();
                try {
                    read(m, start + off, other);
                } catch (IOException e) {
                    continue;
                }
                boolean good = tree ? treeBlockProblem(other, 0, x) == null : dataSectorGood(other, 0, i);
                if (!good) continue;
                buf.put(off, other, 0, len);
                for (int j = i; j < i + len / ss; j++) {
                    ioError[j] = false;
                    csumError[j] = false;
                    metaError[j] = false;
                }
                break;
            }
            i += len / ss - 1;
        }
    }

    /** Writes each run of repaired sectors over this copy (≈ scrub_write_sectors). */
    private void writeBack(boolean[] repaired) {
        int i = 0;
        while (i < sectors) {
            if (!repaired[i]) {
                i++;
                continue;
            }
            int j = i;
            while (j < sectors && repaired[j]) j++;
            long logical = start + (long) i * ss;
            try {
                volume.repairCopy(logical, buf.slice(i * ss, (j - i) * ss), mirror);
                LOG.warn("scrub: repaired {} bytes at logical {} on copy {}", (j - i) * ss, logical, mirror + 1);
            } catch (IOException e) {
                LOG.error("scrub: writing the repair at logical {} on copy {} failed: {}", logical, mirror + 1,
                        e.getMessage());
                for (int k = i; k < j; k++) {
                    repaired[k] = false;
                    ioError[k] = true;
                }
            }
            i = j;
        }
    }

    private static int count(boolean[] bits) {
        int n = 0;
        for (boolean b : bits) if (b) n++;
        return n;
    }
}
