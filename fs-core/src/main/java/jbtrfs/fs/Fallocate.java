package jbtrfs.fs;

import static jbtrfs.fs.FileOffsets.before;
import static jbtrfs.fs.FileOffsets.roundUp;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Timespec;

/**
 * fallocate(2) (≈ btrfs_fallocate): preallocated extents over a range's holes, hole punching (≈ btrfs_punch_hole)
 * and zeroing a range into preallocated extents (≈ btrfs_zero_range). Partial sectors are zeroed by writes.
 */
final class Fallocate {
    /** A file range [start, end) to preallocate; {@code end} is unsigned. */
    private record Gap(long start, long end) {
        long length() { return end - start; }
    }

    private final InodeWriter w;
    private final FileExtentWriter writer;
    private final FileExtents extents;
    private final DataSpace space;
    private final boolean noHoles;
    private final int ss;

    Fallocate(InodeWriter w, FileExtentWriter writer, FileExtents extents, DataSpace space, boolean noHoles) {
        this.w = w;
        this.writer = writer;
        this.extents = extents;
        this.space = space;
        this.noHoles = noHoles;
        this.ss = w.sectorsize();
    }

    /** fallocate(2): preallocate holes in the range, punch one, or zero the range (preallocating it). */
    void fallocate(InodeId file, int mode, long offset, long length) throws FsException {
        if (offset < 0 || length <= 0) throw new FsException(Errno.EINVAL, "bad fallocate range");
        // as vfs_fallocate, for every mode: an end past the largest file size, or one that wraps, is EFBIG
        if (offset > FileExtentWriter.MAX_FILE_SIZE - length) {
            throw new FsException(Errno.EFBIG, "fallocate past the largest file size");
        }
        w.checkWritable(file.root());
        InodeItem inode = writer.regular(file);
        // as vfs_fallocate: nothing on an immutable file, only KEEP_SIZE preallocation on an append-only one
        InodeWriter.refuseIf(inode, mode == FsOperations.FALLOC_FL_KEEP_SIZE ? InodeFlags.IMMUTABLE
                : InodeWriter.IMMUTABLE_OR_APPEND, file, "fallocate");
        boolean keepSize = (mode & FsOperations.FALLOC_FL_KEEP_SIZE) != 0;
        boolean zero = (mode & FsOperations.FALLOC_FL_ZERO_RANGE) != 0;
        if ((mode & ~(FsOperations.FALLOC_FL_KEEP_SIZE | FsOperations.FALLOC_FL_PUNCH_HOLE
                | FsOperations.FALLOC_FL_ZERO_RANGE)) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode " + mode);
        }
        long end = offset + length;
        if ((mode & FsOperations.FALLOC_FL_PUNCH_HOLE) != 0) {
            if (!keepSize || zero) throw new FsException(Errno.EOPNOTSUPP, "fallocate mode " + mode);
            punchHole(file, inode, offset, end);
            return;
        }
        preallocate(file, inode, offset, end, keepSize, zero);
    }

    /** Punches [offset, end) up to EOF: whole sectors lose their extents, partial ones are written zero. */
    private void punchHole(InodeId file, InodeItem inode, long offset, long end) throws FsException {
        Timespec now = w.time();
        end = Math.min(end, inode.size());
        if (end <= offset) return;
        if (extents.hasInline(file)) {
            byte[] zeros = new byte[(int) (end - offset)];
            writer.write(file, offset, ByteBuffer.wrap(zeros));
            return;
        }
        long s = roundUp(offset, ss);
        long e = end / ss * ss;
        if (before(e, s)) {
            writer.writeRegular(file, offset, new byte[(int) (end - offset)]);
            return;
        }
        if (offset < s) writer.writeRegular(file, offset, new byte[(int) (s - offset)]);
        if (e < end) writer.writeRegular(file, e, new byte[(int) (end - e)]);
        w.reserveMetadata(8);
        long removed = extents.drop(file, s, e);
        if (!noHoles && before(s, e)) extents.fillHole(file, s, e);
        InodeItem i = w.load(file);
        w.save(file, i.withNbytes(i.nbytes() - removed).withTimes(i.atime(), now, now));
    }

    /** Preallocates the holes of [offset, end), or with {@code zero} all of it; {@code keepSize} leaves i_size. */
    private void preallocate(InodeId file, InodeItem inode, long offset, long end, boolean keepSize, boolean zero)
            throws FsException {
        Timespec now = w.time();
        long size = inode.size();
        long s = offset / ss * ss;
        long e = roundUp(end, ss);
        if (zero) {
            // every whole sector of the range gets a new preallocated extent; a partial sector that still holds
            // file bytes outside the range keeps its extent and is zeroed by a write (as btrfs_zero_range does)
            if (offset % ss != 0 && s < size) s += ss;
            if (end % ss != 0 && end < size) e -= ss;
        }
        if (extents.hasInline(file) && (!zero || before(s, e))) {
            byte[] content = new byte[(int) size];
            writer.readInto(file, 0, content, content.length);
            writer.writeRegular(file, 0, content);
        }
        List<Gap> gaps = zero ? (before(s, e) ? List.of(new Gap(s, e)) : List.of()) : holes(file, s, e);
        List<List<DataSpace.DiskExtent>> allocated = new ArrayList<>();
        try {
            for (Gap g : gaps) allocated.add(space.allocate(g.length()));
            // the partial sectors' zeros: a write that runs out of space here gives the allocations back
            if (zero) {
                long headEnd = Math.min(FileOffsets.min(FileOffsets.max(s, offset), end), size);
                if (offset < headEnd) writer.write(file, offset, ByteBuffer.wrap(new byte[(int) (headEnd - offset)]));
                long tailStart = FileOffsets.max(FileOffsets.max(e, s), offset);
                if (before(tailStart, end) && end < size) {
                    writer.write(file, tailStart, ByteBuffer.wrap(new byte[(int) (end - tailStart)]));
                }
            }
            // preallocation keeps the extent under the last sector, so its bytes past EOF are zeroed up to the
            // range's end, as btrfs_fallocate zeroes the block at i_size (zeroing writes the sectors it cannot keep)
            writer.zeroTailOfLastSector(file, w.load(file), zero ? FileOffsets.max(s, offset) : end);
            // metadata that runs out gives the data space back too: taken and never inserted, a commit (the
            // gate's retry after ENOSPC) would count it used with no extent item
            w.reserveMetadata(5 + 4 * gaps.size());
        } catch (FsException | RuntimeException x) {
            for (List<DataSpace.DiskExtent> a : allocated) space.release(a);
            throw x;
        }
        long added = 0;
        long removed = 0;
        long transid = w.transid();
        for (int g = 0; g < gaps.size(); g++) {
            long from = gaps.get(g).start();
            removed += extents.drop(file, from, gaps.get(g).end()); // holes only, unless zeroing
            for (DataSpace.DiskExtent p : allocated.get(g)) {
                extents.insertPrealloc(file, from, p, transid);
                from += p.numBytes();
            }
            added += gaps.get(g).length();
        }
        InodeItem i = w.load(file);
        long newSize = keepSize ? i.size() : Math.max(i.size(), end);
        if (!noHoles) extents.fillHole(file, roundUp(i.size(), ss), roundUp(newSize, ss));
        long flags = gaps.isEmpty() ? i.flags() : i.flags() | InodeItem.FLAG_PREALLOC;
        w.save(file, i.withSize(newSize).withNbytes(i.nbytes() - removed + added).withFlags(flags)
                .withTimes(i.atime(), now, keepSize && !zero ? i.mtime() : now));
    }

    /** The parts of [s, e) that no extent but a hole covers; found before any edit, so ENOSPC changes nothing. */
    private List<Gap> holes(InodeId file, long s, long e) throws FsException {
        List<Gap> gaps = new ArrayList<>();
        long at = s;
        for (FileExtents.Extent x : extents.overlapping(file, s, e)) {
            if (x.fe().isHole()) continue;
            if (x.start() > at) gaps.add(new Gap(at, x.start()));
            at = FileOffsets.max(at, x.end());
        }
        if (before(at, e)) gaps.add(new Gap(at, e));
        return gaps;
    }
}
