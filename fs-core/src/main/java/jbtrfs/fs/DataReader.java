package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ReadStats;
import jbtrfs.csum.ChecksumType;
import jbtrfs.volumes.Volume;

/**
 * Reads data sectors by logical address and verifies each against the csum tree, trying every copy (DUP) before
 * failing: a mismatch is EIO for that read, logged and counted, never wrong bytes.
 */
final class DataReader {
    private static final Logger LOG = LoggerFactory.getLogger(DataReader.class);

    private final Volume volume;
    private final CsumTree csums;
    private final ChecksumType csumType;
    private final int sectorsize;
    private final ReadStats stats;

    DataReader(Volume volume, CsumTree csums, ChecksumType csumType, int sectorsize, ReadStats stats) {
        this.volume = volume;
        this.csums = csums;
        this.csumType = csumType;
        this.sectorsize = sectorsize;
        this.stats = stats;
    }

    int sectorsize() { return sectorsize; }

    /** Where a read serves a file, for messages: built into text only when one is written. */
    record Site(InodeId file, long offset) {
        @Override
        public String toString() { return "inode " + file + " offset " + offset; }
    }

    /**
     * Reads {@code length} bytes (a whole number of sectors) at sector-aligned {@code logical} into {@code dst}
     * (position advanced), verifying checksums unless {@code verify} is false. {@code what} names the
     * file for messages.
     */
    void read(long logical, int length, ByteBuffer dst, boolean verify, Object what) throws IOException {
        int sectors = length / sectorsize;
        byte[] expected = null;
        boolean[] present = null;
        if (verify) {
            expected = new byte[sectors * csums.csumSize()];
            present = new boolean[sectors];
            csums.lookup(logical, sectors, expected, present);
        }
        int copies = volume.copies(logical);
        int start = dst.position();
        // sectors not yet read good; each copy in turn serves those it holds good (as the kernel repairs per sector:
        // on RAID5/6 a rebuilt range may be good only where the lost stripe lay)
        boolean[] pending = new boolean[sectors];
        Arrays.fill(pending, true);
        int left = sectors;
        ByteBuffer scratch = null;
        long firstBad = -1;
        IOException readError = null;
        ByteBuffer want = verify ? ByteBuffer.wrap(expected) : null;
        for (int mirror = 0; mirror < copies && left > 0; mirror++) {
            ByteBuffer part = mirror == 0 ? dst.slice(start, length)
                    : (scratch == null ? scratch = ByteBuffer.allocate(length) : scratch.clear());
            try {
                volume.readData(logical, part, mirror);
            } catch (IOException e) {
                // a failed read of one copy (a missing member, a bad sector): the next copy may serve
                if (copies == 1) throw e;
                LOG.warn("data read at logical {} ({}), copy {} of {}: {}", logical, what, mirror + 1, copies,
                        e.getMessage());
                if (readError == null) readError = e;
                continue;
            }
            boolean[] served = mirror == 0 ? null : new boolean[sectors];
            boolean any = false;
            for (int i = 0; i < sectors; i++) {
                if (!pending[i]) continue;
                if (verify && present[i] && !csumType.matches(part, i * sectorsize, sectorsize,
                        want, i * csums.csumSize())) {
                    if (firstBad < 0) firstBad = i;
                    continue;
                }
                if (mirror > 0) {
                    dst.put(start + i * sectorsize, part, i * sectorsize, sectorsize);
                    served[i] = true;
                    any = true;
                }
                pending[i] = false;
                left--;
            }
            if (left > 0) {
                LOG.warn("data checksum mismatch at logical {} ({}), copy {} of {}",
                        logical + firstBad * sectorsize, what, mirror + 1, copies);
            }
            if (any) repairServed(logical, dst.slice(start, length), served, mirror, what);
        }
        if (left == 0) {
            if (firstBad >= 0 || readError != null) stats.mirrorRetry();
            dst.position(start + length);
            return;
        }
        if (firstBad < 0 && readError != null) throw readError;
        stats.dataChecksumFailure();
        long badSector = firstBad;
        for (int i = 0; i < sectors; i++) {
            if (pending[i]) {
                badSector = i;
                break;
            }
        }
        throw new FsException(Errno.EIO, "data checksum mismatch at logical " + (logical + badSector * sectorsize)
                + " (" + what + ")" + (copies > 1 ? " on all " + copies + " copies" : ""));
    }

    /**
     * Copy {@code mirror} served the {@code served} sectors, which every copy before it held bad: each run of them
     * goes back over those copies where the mount may write.
     */
    private void repairServed(long logical, ByteBuffer good, boolean[] served, int mirror, Object what) {
        int i = 0;
        while (i < served.length) {
            if (!served[i]) {
                i++;
                continue;
            }
            int j = i;
            while (j < served.length && served[j]) j++;
            repair(logical + (long) i * sectorsize, good.slice(i * sectorsize, (j - i) * sectorsize), mirror, what);
            i = j;
        }
    }

    /**
     * Read-repair (≈ btrfs_repair_io_failure): the copies before {@code goodMirror} failed their checksums, so where
     * the mount may write, the verified range goes back over each of them. A failed repair is logged, the read
     * still served.
     */
    private void repair(long logical, ByteBuffer good, int goodMirror, Object what) {
        if (!volume.repairsAllowed()) return;
        for (int bad = 0; bad < goodMirror; bad++) {
            try {
                volume.repairCopy(logical, good.duplicate(), bad);
                stats.readRepair();
                LOG.warn("data at logical {} ({}) copy {} repaired from copy {}", logical, what, bad + 1,
                        goodMirror + 1);
            } catch (IOException e) {
                LOG.warn("data at logical {} ({}) copy {}: repair failed: {}", logical, what, bad + 1, e.getMessage());
            }
        }
    }
}
