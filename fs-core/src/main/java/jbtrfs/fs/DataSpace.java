package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.csum.ChecksumType;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.volumes.Volume;

/**
 * Data space for file writes: extents allocated in data block groups (≈ btrfs_reserve_extent), the bytes sent to
 * them, and their per-sector checksums (≈ btrfs_csum_one_bio).
 */
final class DataSpace {
    /** The largest extent the kernel writes (BTRFS_MAX_EXTENT_SIZE). */
    static final long MAX_EXTENT = 128L << 20;

    /** {@code numBytes} of data space at logical address {@code bytenr}, inside one block group. */
    record DiskExtent(long bytenr, long numBytes) {
    }

    private final InodeWriter w;
    private final Volume volume;
    private final ChecksumType csumType;
    private final int ss;

    DataSpace(InodeWriter w, Volume volume, ChecksumType csumType) {
        this.w = w;
        this.volume = volume;
        this.csumType = csumType;
        this.ss = w.sectorsize();
    }

    /** Extents for {@code length} bytes: as few as the free space allows, none over 128 MiB; all or nothing. */
    List<DiskExtent> allocate(long length) throws FsException {
        // a range of 2^63 bytes (fallocate of every file offset) reads negative here: no device holds it
        if (length < 0) throw new FsException(Errno.ENOSPC, "no data space left for " + Long.toUnsignedString(length) + " bytes");
        BlockGroups groups = w.manager().blockGroups();
        List<DiskExtent> out = new ArrayList<>();
        long left = length;
        try {
            while (left > 0) {
                long want = Math.min(left, MAX_EXTENT);
                long at;
                try {
                    at = groups.allocate(BlockGroupFlags.DATA, want, ss);
                } catch (FsException e) {
                    if (e.errno() != Errno.ENOSPC) throw e;
                    want = Math.min(want, groups.largestFree(BlockGroupFlags.DATA) / ss * ss);
                    if (want <= 0) throw e;
                    at = groups.allocate(BlockGroupFlags.DATA, want, ss);
                }
                out.add(new DiskExtent(at, want));
                left -= want;
            }
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC) throw e;
            release(out);
            throw new FsException(Errno.ENOSPC, "no data space left for " + length + " bytes");
        }
        return out;
    }

    /** Gives back space allocated and not used. */
    void release(List<DiskExtent> extents) {
        for (DiskExtent x : extents) w.manager().blockGroups().release(x.bytenr, x.numBytes);
    }

    /** Sends {@code buf} to the extents in turn without waiting (the device copies it); the commit waits for them. */
    void writeBehind(List<DiskExtent> extents, byte[] buf) throws IOException {
        int pos = 0;
        for (DiskExtent x : extents) {
            writeBehind(x.bytenr, buf, pos, (int) x.numBytes);
            pos += (int) x.numBytes;
        }
    }

    /** Sends {@code buf[from, +length)} to {@code bytenr} without waiting; the range lies inside one extent. */
    void writeBehind(long bytenr, byte[] buf, int from, int length) throws IOException {
        // a piece never crosses chunks: allocation gives each one inside one block group
        volume.writeBehind(bytenr, ByteBuffer.wrap(buf, from, length).slice());
    }

    /** The data checksums of the whole sectors of {@code buf[from, +length)}, one after another. */
    byte[] checksums(byte[] buf, int from, int length) {
        int size = csumType.size();
        byte[] out = new byte[length / ss * size];
        byte[] one = new byte[ChecksumType.CSUM_SIZE];
        ByteBuffer b = ByteBuffer.wrap(buf);
        for (int s = 0; s < length / ss; s++) {
            Arrays.fill(one, (byte) 0);
            csumType.compute(b, from + s * ss, ss, one);
            System.arraycopy(one, 0, out, s * size, size);
        }
        return out;
    }
}
