package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.Timespec;
import jbtrfs.tx.DataRefs;

import static jbtrfs.fs.FileOffsets.roundUp;

/**
 * copy_file_range(2) inside one filesystem as the kernel's Btrfs answers it (≈ vfs_copy_file_range with
 * btrfs_remap_file_range and fs/btrfs/reflink.c): where the kernel would reflink, the destination range gets file
 * extent items over the source's disk extents, with a back reference each (hole items copied where the image keeps
 * them); where it would not (unaligned offsets, an inline extent in the range, data checksums on one side only),
 * the bytes are copied, as the kernel's VFS falls back to a copy then.
 */
final class CloneRange {
    /**
     * What the call does: share {@code length} bytes' extents over {@code span} (the length up to whole sectors),
     * batch by batch through {@link #shareNext}, or copy {@code length} bytes (the caller; 0: nothing).
     */
    record Outcome(long length, boolean shared, long span) {
        static Outcome copy(long length) {
            return new Outcome(length, false, 0);
        }
    }

    /** Source items shared per call of {@link #shareNext}: the metadata one change reserves stays bounded. */
    static final int BATCH = 8;

    private final InodeWriter w;
    private final FileExtentWriter files;
    private final FileExtents extents;
    private final boolean noHoles;
    private final int ss;

    CloneRange(InodeWriter w, FileExtentWriter files, boolean noHoles) {
        this.w = w;
        this.files = files;
        this.extents = new FileExtents(w);
        this.noHoles = noHoles;
        this.ss = w.sectorsize();
    }

    /**
     * Checks the call as generic_copy_file_checks does, then decides whether the kernel would share the extents
     * (generic_remap_checks and generic_remap_check_len with REMAP_FILE_CAN_SHORTEN: an unaligned length is cut to
     * whole sectors unless it reaches the source's EOF and the destination's). Changes nothing.
     */
    Outcome plan(InodeId src, long srcOff, InodeId dst, long dstOff, long length, int flags) throws FsException {
        if (flags != 0) throw new FsException(Errno.EINVAL, "copy_file_range flags " + flags);
        if (srcOff < 0 || dstOff < 0 || length < 0) throw new FsException(Errno.EINVAL, "negative offset or length");
        InodeItem in = files.regular(src);
        InodeItem out = files.regular(dst);
        w.checkWritable(dst.root());
        InodeWriter.refuseIf(out, InodeFlags.IMMUTABLE, dst, "copy_file_range");
        long len = srcOff >= in.size() ? 0 : Math.min(length, in.size() - srcOff);
        if (dstOff > FileExtentWriter.MAX_FILE_SIZE - len) {
            throw new FsException(Errno.EOVERFLOW, "copy past the largest file offset");
        }
        if (src.equals(dst) && srcOff < dstOff + len && dstOff < srcOff + len) {
            throw new FsException(Errno.EINVAL, "overlapping ranges of one file");
        }
        if (len == 0) return Outcome.copy(0);
        long asked = len;
        if (srcOff % ss != 0 || dstOff % ss != 0 || !sameChecksums(in, out)) return Outcome.copy(len);
        boolean toEof = srcOff + len == in.size();
        if (len % ss != 0 && (!toEof || dstOff + len < out.size())) len -= len % ss;
        // an inline extent only ever starts a file, and is shorter than a sector
        if (len == 0 || (srcOff == 0 && extents.hasInline(src))) return Outcome.copy(asked);
        return new Outcome(len, true, toEof && len % ss != 0 ? roundUp(len, ss) : len);
    }

    private static boolean sameChecksums(InodeItem a, InodeItem b) {
        return (a.flags() & InodeItem.FLAG_NODATASUM) == (b.flags() & InodeItem.FLAG_NODATASUM);
    }

    /**
     * Shares the next at most {@link #BATCH} source extents of a planned call, from {@code done} bytes into its
     * span; returns how far into the span it got. The destination's range drops what it held and refers to the
     * source's extents; holes stay holes. The file grows up to dstOff + length as the batches go (≈ btrfs_clone,
     * which goes extent by extent, after btrfs_cont_expand filled the gap up to dstOff).
     */
    long shareNext(InodeId src, long srcOff, InodeId dst, long dstOff, Outcome plan, long done) throws FsException {
        long span = plan.span();
        List<FileExtents.Extent> source = extents.overlapping(src, srcOff + done, srcOff + span);
        long upTo = span;
        if (source.size() > BATCH) {
            source = source.subList(0, BATCH);
            upTo = FileOffsets.min(source.get(BATCH - 1).end(), srcOff + span) - srcOff;
        }
        // as the write path: the items put and their leaves; the destination's items that go share their leaves
        w.reserveMetadata(8 + 2 * source.size());
        InodeItem out = w.load(dst);
        long oldSize = out.size();
        if (done == 0 && dstOff > oldSize) {
            files.zeroTailOfLastSector(dst, out, dstOff);
            if (!noHoles) extents.fillHole(dst, roundUp(oldSize, ss), dstOff);
        }
        long removed = extents.drop(dst, dstOff + done, dstOff + upTo);
        w.extentsRewritten(dst); // as btrfs_clone_files sets NEEDS_FULL_SYNC
        long added = 0;
        long transid = w.transid();
        DataRefs refs = w.tx().dataRefs();
        for (FileExtents.Extent x : source) {
            FileExtentItem fe = x.fe();
            // a hole item is copied like an extent's (its ram_bytes kept), where the image has hole items
            if (fe.isHole() && noHoles) continue;
            long from = Math.max(x.start(), srcOff + done);
            long to = FileOffsets.min(x.end(), srcOff + upTo);
            long at = dstOff + (from - srcOff);
            long offset = fe.offset() + (from - x.start());
            w.tx().editor().insert(w.root(dst.root()), new Key(dst.objectid(), KeyType.EXTENT_DATA, at),
                    FileExtentItem.encode(transid, fe.type(), fe.compression(), fe.diskBytenr(), fe.diskNumBytes(),
                            offset, to - from, fe.ramBytes()));
            if (fe.isHole()) continue;
            refs.change(fe.diskBytenr(), fe.diskNumBytes(), new DataRefs.Ref(dst.root(), dst.objectid(), at - offset),
                    1);
            added += to - from;
        }
        long newSize = Math.max(oldSize, dstOff + Math.min(upTo, plan.length()));
        if (!noHoles) extents.fillHole(dst, dstOff + done, FileOffsets.min(dstOff + upTo, roundUp(newSize, ss)));
        InodeItem i = w.load(dst);
        Timespec now = w.time();
        w.save(dst, i.withSize(newSize).withNbytes(i.nbytes() - removed + added).withTimes(i.atime(), now, now));
        return upTo;
    }

    /** The most bytes a copy reads and writes at once. */
    private static final int COPY_PIECE = 1 << 20;

    /**
     * The kernel's fallback (do_splice_direct): {@code length} bytes read and written through {@code ops} in pieces,
     * each its own change; returns the bytes copied (fewer only if the source shrank meanwhile).
     */
    static long copyBytes(FsOperations ops, InodeId src, long srcOff, InodeId dst, long dstOff, long length)
            throws FsException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(length, COPY_PIECE));
        long done = 0;
        while (done < length) {
            buf.clear().limit((int) Math.min(buf.capacity(), length - done));
            int n = ops.read(src, srcOff + done, buf);
            if (n <= 0) break;
            buf.flip();
            ops.write(dst, dstOff + done, buf);
            done += n;
        }
        return done;
    }
}
