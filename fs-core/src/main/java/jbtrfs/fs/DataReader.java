package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;

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

    /**
     * Reads {@code length} bytes (a whole number of sectors) at sector-aligned {@code logical} into {@code dst}
     * (position advanced), verifying checksums unless {@code verify} is false. {@code what} names the
     * file for messages.
     */
    void read(long logical, int length, ByteBuffer dst, boolean verify, String what) throws IOException {
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
        long badSector = -1;
        IOException readError = null;
        for (int mirror = 0; mirror < copies; mirror++) {
            dst.position(start);
            ByteBuffer part = dst.slice(start, length);
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
            badSector = verify ? firstBadSector(dst, start, sectors, expected, present) : -1;
            if (badSector < 0) {
                if (mirror > 0) {
                    stats.mirrorRetry();
                    repair(logical, dst.slice(start, length), mirror, what);
                }
                dst.position(start + length);
                return;
            }
            LOG.warn("data checksum mismatch at logical {} ({}), copy {} of {}",
                    logical + badSector * sectorsize, what, mirror + 1, copies);
        }
        if (badSector < 0 && readError != null) throw readError;
        stats.dataChecksumFailure();
        throw new FsException(Errno.EIO, "data checksum mismatch at logical " + (logical + badSector * sectorsize)
                + " (" + what + ")" + (copies > 1 ? " on all " + copies + " copies" : ""));
    }

    /**
     * Read-repair (≈ btrfs_repair_io_failure): the copies before {@code goodMirror} failed their checksums, so where
     * the mount may write, the verified range goes back over each of them. A failed repair is logged, the read
     * still served.
     */
    private void repair(long logical, ByteBuffer good, int goodMirror, String what) {
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

    private long firstBadSector(ByteBuffer dst, int start, int sectors, byte[] expected, boolean[] present) {
        ByteBuffer want = ByteBuffer.wrap(expected);
        for (int i = 0; i < sectors; i++) {
            if (!present[i]) continue;
            if (!csumType.matches(dst, start + i * sectorsize, sectorsize, want, i * csums.csumSize())) return i;
        }
        return -1;
    }
}
