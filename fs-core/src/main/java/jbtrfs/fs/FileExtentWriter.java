package jbtrfs.fs;

import static jbtrfs.fs.FileOffsets.TO_END;
import static jbtrfs.fs.FileOffsets.before;
import static jbtrfs.fs.FileOffsets.roundUp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.compress.Compressor;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.Timespec;
import jbtrfs.tx.DataRefs;
import jbtrfs.volumes.Volume;

/**
 * File contents (≈ the kernel's buffered write and cow_file_range): writes go copy-on-write to newly allocated
 * extents (the old extents' overlapped parts are cut out of the file, their back references adjusted), with a
 * checksum per sector; small files live inline in their leaf, as the kernel keeps them. Compressed extents,
 * writes in place (nocow) and fallocate have their own classes; truncate edits the same extent items.
 */
final class FileExtentWriter {
    /** The kernel's max_inline default: files up to this size (and under a sector) are stored inline. */
    static final int MAX_INLINE = 2048;
    static final long MAX_FILE_SIZE = Long.MAX_VALUE;

    private final InodeWriter w;
    private final FileData reader;
    private final boolean noHoles;
    private final FileExtents extents;
    private final DataSpace space;
    private final CompressedExtents compressedExtents;
    private final NoCowWriter nocow;
    private final Fallocate fallocate;
    private final int ss;

    FileExtentWriter(InodeWriter w, FileData reader, Volume volume, ChecksumType csumType, boolean noHoles,
                     MountOptions.Compression compression) {
        this.w = w;
        this.reader = reader;
        this.noHoles = noHoles;
        this.extents = new FileExtents(w);
        this.space = new DataSpace(w, volume, csumType);
        this.compressedExtents = new CompressedExtents(w, extents, space, compression);
        this.nocow = new NoCowWriter(w, extents, space);
        this.fallocate = new Fallocate(w, this, extents, space, noHoles);
        this.ss = w.sectorsize();
    }

    int write(InodeId file, long offset, ByteBuffer src) throws FsException {
        int len = src.remaining();
        if (len == 0) return 0;
        if (offset < 0) throw new FsException(Errno.EINVAL, "negative offset");
        if (offset > MAX_FILE_SIZE - len) throw new FsException(Errno.EFBIG, "write past the largest file size");
        w.checkWritable(file.root());
        InodeItem inode = regular(file);
        InodeWriter.refuseIf(inode, InodeFlags.IMMUTABLE, file, "write");
        // append-only: the kernel opens such a file for writing only with O_APPEND, which writes at the end
        if (offset < inode.size()) InodeWriter.refuseIf(inode, InodeFlags.APPEND, file, "write inside");
        byte[] data = incoming(len);
        src.get(data);
        long end = offset + len;
        long newSize = Math.max(inode.size(), end);
        if (newSize <= ss && onlyInlineOrNothing(file)) {
            byte[] all = new byte[(int) newSize];
            readInto(file, 0, all, (int) Math.min(inode.size(), newSize));
            System.arraycopy(data, 0, all, (int) offset, len);
            if (newSize <= inlineLimit()) {
                writeInline(file, all, null, CompressionType.NONE);
                return len;
            }
            // up to a sector, a file whose compressed bytes fit max_inline is inline compressed, as on the kernel
            MountOptions.Compression c = compressedExtents.compressionFor(file, inode);
            byte[] z = c == null ? null : Compressor.compress(c.type(), c.level(), all, 0, all.length, ss);
            if (z != null && z.length <= MAX_INLINE) {
                w.manager().requireIncompat(c.type().incompatBit());
                writeInline(file, all, z, c.type());
                return len;
            }
            if (c != null) compressedExtents.markIncompressible(file, c);
        }
        zeroTailOfLastSector(file, inode, offset);
        writeRegular(file, offset, data);
        return len;
    }

    /**
     * An array for a write's bytes. A FUSE write's size repeats (1 MiB for a stream): each thread reuses one array
     * of that size, since a fresh one is zeroed and, on a fresh heap, faulted in page by page, which cost more than
     * the rest of the write. Nothing keeps it past the write: the device copies what it writes behind.
     */
    private static byte[] incoming(int len) {
        if (len > MAX_REUSED_INCOMING) return new byte[len];
        byte[] a = INCOMING.get();
        if (a == null || a.length != len) {
            a = new byte[len];
            INCOMING.set(a);
        }
        return a;
    }

    /** The largest write whose array is reused: a FUSE write request's most. */
    private static final int MAX_REUSED_INCOMING = 1 << 20;
    private static final ThreadLocal<byte[]> INCOMING = new ThreadLocal<>();

    /** The largest file kept inline: the kernel's max_inline, and less than a sector. */
    private long inlineLimit() { return Math.min(MAX_INLINE, ss - 1); }

    /** Whether the file has no extents, or only an inline one. */
    private boolean onlyInlineOrNothing(InodeId file) throws FsException {
        for (FileExtents.Extent e : extents.overlapping(file, 0, TO_END)) if (!e.fe().isInline()) return false;
        return true;
    }

    /** The whole file {@code all} as its one inline extent, stored as {@code compressed} when not null. */
    private void writeInline(InodeId file, byte[] all, byte[] compressed, CompressionType type) throws FsException {
        w.reserveMetadata(4);
        long removed = extents.drop(file, 0, TO_END);
        w.extentsRewritten(file);
        w.tx().editor().put(w.root(file.root()), new Key(file.objectid(), KeyType.EXTENT_DATA, 0),
                compressed == null ? FileExtentItem.encodeInline(w.transid(), all)
                        : FileExtentItem.encodeInline(w.transid(), compressed, all.length, type.code()));
        InodeItem i = w.load(file);
        Timespec now = w.time();
        w.save(file, i.withSize(Math.max(i.size(), all.length)).withNbytes(i.nbytes() - removed + all.length)
                .withTimes(i.atime(), now, now));
    }

    /**
     * Before the file grows past a size that ends inside a sector, the rest of that sector is made zero on disk:
     * it may hold bytes from before a truncate, which growing would show (≈ btrfs_truncate_block).
     */
    void zeroTailOfLastSector(InodeId file, InodeItem inode, long growingFrom) throws FsException {
        long size = inode.size();
        if (size % ss == 0 || !before(size, growingFrom)) return;
        long sectorEnd = roundUp(size, ss);
        byte[] zeros = new byte[(int) (FileOffsets.min(sectorEnd, growingFrom) - size)];
        if (zeros.length > 0 && extents.hasDataAt(file, size)) writeRegular(file, size, zeros, false);
    }

    /** Writes {@code data} at {@code offset} into new extents (whole sectors: partial ones are read first). */
    void writeRegular(InodeId file, long offset, byte[] data) throws FsException {
        writeRegular(file, offset, data, true);
    }

    /** As above; {@code growSize} false leaves i_size alone (zeroing the tail of the last sector). */
    private void writeRegular(InodeId file, long offset, byte[] data, boolean growSize) throws FsException {
        long end = offset + data.length;
        long aStart = offset / ss * ss;
        long aEnd = roundUp(end, ss);
        InodeItem inode = w.load(file);
        boolean inline = extents.hasInline(file);
        if (inline) aStart = 0;
        byte[] buf = data; // whole sectors go as they came
        if (aStart != offset || aEnd != end) {
            buf = new byte[(int) (aEnd - aStart)];
            // the partial sectors at both ends keep the bytes around the write
            if (aStart < offset) readInto(file, aStart, buf, (int) (offset - aStart));
            if (before(end, aEnd) && end < inode.size()) {
                byte[] tail = new byte[(int) (aEnd - end)];
                readInto(file, end, tail, tail.length);
                System.arraycopy(tail, 0, buf, (int) (end - aStart), tail.length);
            }
            System.arraycopy(data, 0, buf, (int) (offset - aStart), data.length);
        }
        MountOptions.Compression compress = compressedExtents.compressionFor(file, inode);
        FileExtents.Extent gathered = compress != null && !inline && growSize
                ? compressedExtents.gatherableTail(file, aStart, buf.length) : null;
        // one sector alone cannot save space: compressed only with the tail it joins
        if (gathered == null && buf.length <= ss) compress = null;
        if (compress == null && !inline && growSize && extendLastExtent(file, inode, aStart, buf, end)) return;
        if (!inline && nocow.writeIntoPrealloc(file, aStart, buf, end, growSize)) return;
        if (!inline && nocow.overwriteNoDataCow(file, inode, aStart, buf, end, growSize)) return;
        if (gathered != null) {
            // the tail's bytes go in front of this write's and are compressed with them
            byte[] both = new byte[(int) (aStart - gathered.start()) + buf.length];
            readInto(file, gathered.start(), both, (int) (aStart - gathered.start()));
            System.arraycopy(buf, 0, both, (int) (aStart - gathered.start()), buf.length);
            aStart = gathered.start();
            buf = both;
        }
        List<FileExtents.NewExtent> planned = compress == null ? null : compressedExtents.compress(buf, compress);
        if (planned != null && planned.isEmpty()) {
            compressedExtents.markIncompressible(file, compress);
            planned = null;
        }
        if (planned == null) planned = uncompressed(buf);
        try {
            w.reserveMetadata(6 + 3 * planned.size());
            for (FileExtents.NewExtent x : planned) {
                space.writeBehind(x.bytenr(), x.disk(), x.diskOffset(), (int) x.diskBytes());
            }
        } catch (IOException | RuntimeException e) {
            for (FileExtents.NewExtent x : planned) w.manager().blockGroups().release(x.bytenr(), x.diskBytes());
            if (e instanceof FsException fe) throw fe;
            if (e instanceof RuntimeException re) throw re;
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
        long removed = extents.drop(file, aStart, aEnd);
        if (gathered != null) extents.releaseUnreferenced(gathered.fe());
        if (!noHoles) extents.fillHole(file, roundUp(inode.size(), ss), aStart);
        long at = aStart;
        long transid = w.transid();
        boolean sums = (inode.flags() & InodeItem.FLAG_NODATASUM) == 0;
        for (FileExtents.NewExtent x : planned) {
            extents.insert(file, at, x, transid);
            if (sums) {
                w.manager().csums().insert(w.tx(), x.bytenr(),
                        space.checksums(x.disk(), x.diskOffset(), (int) x.diskBytes()));
            }
            at += x.numBytes();
        }
        InodeItem i = w.load(file);
        Timespec now = w.time();
        w.save(file, i.withSize(growSize ? Math.max(i.size(), end) : i.size())
                .withNbytes(i.nbytes() - removed + buf.length).withTimes(i.atime(), now, now));
    }

    /** Extents for the whole sectors {@code buf}, uncompressed: as few as the free space allows. */
    private List<FileExtents.NewExtent> uncompressed(byte[] buf) throws FsException {
        List<FileExtents.NewExtent> out = new ArrayList<>();
        int pos = 0;
        for (DataSpace.DiskExtent p : space.allocate(buf.length)) {
            out.add(new FileExtents.NewExtent(p.bytenr(), p.numBytes(), p.numBytes(), CompressionType.NONE, buf, pos));
            pos += (int) p.numBytes();
        }
        return out;
    }

    /**
     * Sequential writes grow the file's last extent when this transaction made it and the space right after it is
     * free: large files get extents of up to 128 MiB, as the kernel's delayed allocation gives them, instead of one
     * per FUSE write. An append that starts inside the file's last, partial sector (tar writes 10 KiB at a time)
     * writes that sector again in place: it was never committed, and nothing else refers to it. Returns false
     * (nothing done) when the write is not such an append.
     */
    private boolean extendLastExtent(InodeId file, InodeItem inode, long aStart, byte[] buf, long end)
            throws FsException {
        long sizeUp = roundUp(inode.size(), ss);
        // the sector the write starts in, when it is the file's partial last one: rewritten, not appended
        int rewrite = aStart != sizeUp && aStart + ss == sizeUp ? ss : 0;
        if (aStart == 0 || (aStart != sizeUp && rewrite == 0)) return false;
        List<FileExtents.Extent> before = extents.overlapping(file, sizeUp - 1, sizeUp);
        if (before.size() != 1 || !extents.overlapping(file, sizeUp, TO_END).isEmpty()) return false;
        FileExtents.Extent x = before.get(0);
        FileExtentItem fe = x.fe();
        if (x.end() != sizeUp || x.start() > aStart - (rewrite == 0 ? 1 : 0) || fe.type() != FileExtentItem.TYPE_REG
                || fe.compression() != 0 || fe.diskBytenr() == 0 || fe.offset() != 0
                || fe.numBytes() != fe.diskNumBytes()
                || fe.diskNumBytes() + buf.length - rewrite > DataSpace.MAX_EXTENT) {
            return false;
        }
        DataRefs.Ref ref = new DataRefs.Ref(file.root(), file.objectid(), x.start());
        if (!w.tx().dataRefs().onlyNewRef(fe.diskBytenr(), ref)) return false;
        // a logged extent keeps its bytes: the log's checksums of its last sector must stay true
        if (rewrite > 0 && w.manager().logging()) return false;
        long tail = fe.diskBytenr() + fe.diskNumBytes();
        long at = tail - rewrite;
        long more = buf.length - rewrite;
        w.reserveMetadata(6);
        if (more > 0 && !w.manager().blockGroups().tryTake(tail, more, BlockGroupFlags.DATA)) return false;
        try {
            space.writeBehind(at, buf, 0, buf.length);
        } catch (IOException e) {
            if (more > 0) w.manager().blockGroups().release(tail, more);
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
        long grown = fe.diskNumBytes() + more;
        w.tx().editor().put(w.root(file.root()), x.key(), FileExtentItem.encodeRegular(w.transid(),
                FileExtentItem.TYPE_REG, fe.diskBytenr(), grown, 0, grown, grown));
        w.extentsChanged(file, x.start(), x.start() + grown);
        w.tx().dataRefs().grow(fe.diskBytenr(), grown);
        if ((inode.flags() & InodeItem.FLAG_NODATASUM) == 0) {
            if (rewrite > 0) w.manager().csums().delete(w.tx(), at, rewrite);
            w.manager().csums().insert(w.tx(), at, space.checksums(buf, 0, buf.length));
        }
        InodeItem i = w.load(file);
        Timespec now = w.time();
        w.save(file, i.withSize(Math.max(i.size(), end)).withNbytes(i.nbytes() + more)
                .withTimes(i.atime(), now, now));
        return true;
    }

    /** truncate(2). */
    void truncate(InodeId file, long size) throws FsException {
        if (size < 0) throw new FsException(Errno.EINVAL, "negative size");
        w.checkWritable(file.root());
        InodeItem inode = regular(file);
        InodeWriter.refuseIf(inode, InodeWriter.IMMUTABLE_OR_APPEND, file, "truncate");
        Timespec now = w.time();
        long old = inode.size();
        if (size < old) {
            w.reserveMetadata(8);
            w.extentsRewritten(file); // as btrfs_truncate sets NEEDS_FULL_SYNC
            if (extents.hasInline(file)) {
                // the kept bytes are written again: inline, compressed inline, or (a compressed inline file cut
                // to more than max_inline that no longer compresses enough) one sector
                byte[] keep = new byte[(int) size];
                readInto(file, 0, keep, keep.length);
                long removed = extents.drop(file, 0, TO_END);
                InodeItem i = w.load(file);
                w.save(file, i.withSize(0).withNbytes(i.nbytes() - removed).withTimes(i.atime(), now, now));
                if (keep.length > 0) write(file, 0, ByteBuffer.wrap(keep));
                return;
            }
            long removed = extents.drop(file, roundUp(size, ss), TO_END);
            InodeItem i = w.load(file);
            w.save(file, i.withSize(size).withNbytes(i.nbytes() - removed).withTimes(i.atime(), now, now));
            return;
        }
        if (size > old) {
            if (extents.hasInline(file) && size > inlineLimit()) {
                byte[] content = new byte[(int) old];
                readInto(file, 0, content, content.length);
                writeRegular(file, 0, content);
            } else {
                zeroTailOfLastSector(file, inode, size);
            }
            w.reserveMetadata(4);
            if (!noHoles) extents.fillHole(file, roundUp(old, ss), roundUp(size, ss));
        }
        InodeItem i = w.load(file);
        w.save(file, i.withSize(size).withTimes(i.atime(), now, now));
    }

    /** fallocate(2): preallocate holes in the range, punch one, or zero the range (preallocating it). */
    void fallocate(InodeId file, int mode, long offset, long length) throws FsException {
        fallocate.fallocate(file, mode, offset, length);
    }

    /** Deletes an inode with no names left and everything keyed under it, dropping its extents' references. */
    void deleteInode(InodeId id) throws FsException {
        extents.drop(id, 0, TO_END);
        TreeRoot root = w.root(id.root());
        List<Key> keys = new ArrayList<>();
        Cursor c = w.tree(id.root()).seek(Key.first(id.objectid(), 0));
        while (c.valid() && c.key().objectid() == id.objectid()) {
            keys.add(c.key());
            c.next();
        }
        // each key was just seen under this lock: no search before each delete
        for (Key k : keys) w.tx().editor().deletePresent(root, k);
    }

    // ---- helpers ----

    InodeItem regular(InodeId file) throws FsException {
        InodeItem i = w.load(file);
        int type = i.mode() & Stat.S_IFMT;
        if (type == Stat.S_IFDIR) throw new FsException(Errno.EISDIR, file + " is a directory");
        if (type != Stat.S_IFREG) throw new FsException(Errno.EINVAL, file + " is not a regular file");
        return i;
    }

    /** Reads the file's current bytes (zeros past EOF) into dst[0, length). */
    void readInto(InodeId file, long offset, byte[] dst, int length) throws FsException {
        if (length <= 0) return;
        try {
            reader.read(file, offset, ByteBuffer.wrap(dst, 0, length));
        } catch (FsException e) {
            throw e;
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "reading " + file + " for a write: " + e.getMessage(), e);
        }
    }
}
