package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.compress.CompressionType;
import jbtrfs.compress.Compressor;
import jbtrfs.compress.Decompressor;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.tx.DataRefs;
import jbtrfs.volumes.Volume;

import static jbtrfs.fs.FileOffsets.TO_END;
import static jbtrfs.fs.FileOffsets.before;
import static jbtrfs.fs.FileOffsets.roundUp;

/**
 * File contents: writes go copy-on-write to newly allocated extents (the old extents' overlapped parts are cut out
 * of the file, their back references adjusted), with a checksum per sector; small files live inline in their
 * leaf, as the kernel keeps them; truncate, preallocation and hole punching edit the same extent items.
 */
final class FileWriter {
    /** The kernel's max_inline default: files up to this size (and under a sector) are stored inline. */
    static final int MAX_INLINE = 2048;
    /** The largest extent the kernel writes (BTRFS_MAX_EXTENT_SIZE). */
    static final long MAX_EXTENT = 128L << 20;
    static final long MAX_FILE_SIZE = Long.MAX_VALUE;
    /**
     * A compressed tail this long takes no more appends: each append compresses the whole tail again, and on an
     * untar of /usr/include (10 KiB writes, zstd) stopping at 64 KiB cost 4% more data bytes than at 128 KiB and
     * saved 14% of the time.
     */
    private static final int GATHER_LIMIT = 64 * 1024;
    private static final byte[] COMPRESSION_PROP =
            XattrWriter.COMPRESSION_PROP.getBytes(java.nio.charset.StandardCharsets.UTF_8);

    private final InodeWriter w;
    private final FileData reader;
    private final Volume volume;
    private final ChecksumType csumType;
    private final boolean noHoles;
    /** The compress mount option, or null. */
    private final MountOptions.Compression compression;
    private final int ss;

    FileWriter(InodeWriter w, FileData reader, Volume volume, ChecksumType csumType, boolean noHoles,
               MountOptions.Compression compression) {
        this.w = w;
        this.reader = reader;
        this.volume = volume;
        this.csumType = csumType;
        this.noHoles = noHoles;
        this.compression = compression;
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
            MountOptions.Compression c = compressionFor(file, inode);
            byte[] z = c == null ? null : Compressor.compress(c.type(), c.level(), all, 0, all.length, ss);
            if (z != null && z.length <= MAX_INLINE) {
                w.manager().requireIncompat(c.type().incompatBit());
                writeInline(file, all, z, c.type());
                return len;
            }
            if (c != null) markIncompressible(file, c);
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
        for (Extent e : extents(file, 0, TO_END)) if (!e.fe.isInline()) return false;
        return true;
    }

    /** The whole file {@code all} as its one inline extent, stored as {@code compressed} when not null. */
    private void writeInline(InodeId file, byte[] all, byte[] compressed, CompressionType type) throws FsException {
        w.reserveMetadata(4);
        long removed = dropExtents(file, 0, TO_END);
        w.tx().editor().put(w.root(file.root()), new Key(file.objectid(), KeyType.EXTENT_DATA, 0),
                compressed == null ? FileExtentItem.encodeInline(w.transid(), all)
                        : FileExtentItem.encodeInline(w.transid(), compressed, all.length, type.code()));
        InodeItem i = w.load(file);
        Timespec now = InodeWriter.now();
        w.save(file, i.withSize(Math.max(i.size(), all.length)).withNbytes(i.nbytes() - removed + all.length)
                .withTimes(i.atime(), now, now));
    }

    /**
     * Before the file grows past a size that ends inside a sector, the rest of that sector is made zero on disk:
     * it may hold bytes from before a truncate, which growing would show (≈ btrfs_truncate_block).
     */
    private void zeroTailOfLastSector(InodeId file, InodeItem inode, long growingFrom) throws FsException {
        long size = inode.size();
        if (size % ss == 0 || !before(size, growingFrom)) return;
        long sectorEnd = roundUp(size, ss);
        byte[] zeros = new byte[(int) (FileOffsets.min(sectorEnd, growingFrom) - size)];
        if (zeros.length > 0 && hasDataAt(file, size)) writeRegular(file, size, zeros, false);
    }

    private boolean hasDataAt(InodeId file, long at) throws FsException {
        for (Extent e : extents(file, at, at + 1)) if (!e.fe.isHole()) return true;
        return false;
    }

    /** Writes {@code data} at {@code offset} into new extents (whole sectors: partial ones are read first). */
    private void writeRegular(InodeId file, long offset, byte[] data) throws FsException {
        writeRegular(file, offset, data, true);
    }

    /** As above; {@code growSize} false leaves i_size alone (zeroing the tail of the last sector). */
    private void writeRegular(InodeId file, long offset, byte[] data, boolean growSize) throws FsException {
        long end = offset + data.length;
        long aStart = offset / ss * ss;
        long aEnd = roundUp(end, ss);
        InodeItem inode = w.load(file);
        boolean inline = hasInline(file);
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
        MountOptions.Compression compress = compressionFor(file, inode);
        Extent gathered = compress != null && !inline && growSize ? compressedTail(file, aStart, buf.length) : null;
        // one sector alone cannot save space: compressed only with the tail it joins
        if (gathered == null && buf.length <= ss) compress = null;
        if (compress == null && !inline && growSize && extendLastExtent(file, inode, aStart, buf, end)) return;
        if (!inline && writeIntoPrealloc(file, aStart, buf, end, growSize)) return;
        if (!inline && overwriteNoDataCow(file, inode, aStart, buf, end, growSize)) return;
        if (gathered != null) {
            // the tail's bytes go in front of this write's and are compressed with them
            byte[] both = new byte[(int) (aStart - gathered.start) + buf.length];
            readInto(file, gathered.start, both, (int) (aStart - gathered.start));
            System.arraycopy(buf, 0, both, (int) (aStart - gathered.start), buf.length);
            aStart = gathered.start;
            buf = both;
        }
        List<NewExtent> planned = compress == null ? null : compressed(buf, compress);
        if (planned != null && planned.isEmpty()) {
            markIncompressible(file, compress);
            planned = null;
        }
        if (planned == null) planned = uncompressed(buf);
        try {
            w.reserveMetadata(6 + 3 * planned.size());
            for (NewExtent x : planned) {
                // a piece never crosses chunks: allocation gives each one inside one block group
                volume.writeBehind(x.bytenr, ByteBuffer.wrap(x.disk, x.diskOffset, (int) x.diskBytes).slice());
            }
        } catch (IOException | RuntimeException e) {
            for (NewExtent x : planned) w.manager().blockGroups().release(x.bytenr, x.diskBytes);
            if (e instanceof FsException fe) throw fe;
            if (e instanceof RuntimeException re) throw re;
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
        long removed = dropExtents(file, aStart, aEnd);
        if (gathered != null) releaseUnreferenced(gathered.fe);
        if (!noHoles) fillHole(file, roundUp(inode.size(), ss), aStart);
        long at = aStart;
        long transid = w.transid();
        boolean sums = (inode.flags() & InodeItem.FLAG_NODATASUM) == 0;
        for (NewExtent x : planned) {
            insertExtent(file, at, x, transid);
            if (sums) w.manager().csums().insert(w.tx(), x.bytenr, checksums(x.disk, x.diskOffset, (int) x.diskBytes));
            at += x.numBytes;
        }
        InodeItem i = w.load(file);
        Timespec now = InodeWriter.now();
        w.save(file, i.withSize(growSize ? Math.max(i.size(), end) : i.size())
                .withNbytes(i.nbytes() - removed + buf.length).withTimes(i.atime(), now, now));
    }

    /**
     * A new extent of a write: {@code numBytes} of the file stored as {@code disk[diskOffset, +diskBytes)} at
     * {@code bytenr}, compressed or not.
     */
    private record NewExtent(long bytenr, long diskBytes, long numBytes, CompressionType compression, byte[] disk,
                             int diskOffset) {
    }

    /** Extents for the whole sectors {@code buf}, uncompressed: as few as the free space allows. */
    private List<NewExtent> uncompressed(byte[] buf) throws FsException {
        List<NewExtent> out = new ArrayList<>();
        int pos = 0;
        for (long[] p : allocateData(buf.length)) {
            out.add(new NewExtent(p[0], p[1], p[1], CompressionType.NONE, buf, pos));
            pos += (int) p[1];
        }
        return out;
    }

    /**
     * How the file's writes are compressed, or null (≈ inode_need_compress): never for nodatasum or nodatacow
     * files; compress-force always; else not for files marked NOCOMPRESS, and only with a compress option or the
     * COMPRESS flag (chattr +c, the btrfs.compression property). The property names the type, else the option
     * does, else zlib (≈ compress_file_range).
     */
    private MountOptions.Compression compressionFor(InodeId file, InodeItem inode) throws FsException {
        long flags = inode.flags();
        if ((flags & (InodeItem.FLAG_NODATASUM | InodeItem.FLAG_NODATACOW)) != 0) return null;
        boolean flagged = (flags & InodeItem.FLAG_COMPRESS) != 0;
        boolean force = compression != null && compression.force();
        if (!force && ((flags & InodeItem.FLAG_NOCOMPRESS) != 0 || (compression == null && !flagged))) return null;
        byte[] prop = flagged ? XattrWriter.get(w, file, COMPRESSION_PROP) : null;
        CompressionType type = prop == null ? null
                : XattrWriter.compressionOf(new String(prop, java.nio.charset.StandardCharsets.ISO_8859_1));
        if (type == null) {
            return compression != null ? compression
                    : new MountOptions.Compression(CompressionType.ZLIB, Compressor.DEFAULT_LEVEL, false);
        }
        int level = compression != null && compression.type() == type ? compression.level() : Compressor.DEFAULT_LEVEL;
        return new MountOptions.Compression(type, level, force);
    }

    /**
     * Each 128 KiB of {@code buf} compressed into its own extent, as the kernel's compressed extents hold at most
     * that; a piece that does not save a sector stays uncompressed. Empty when no piece compressed; null when no
     * single run of free space takes a compressed piece (then the write goes uncompressed, as the kernel falls
     * back).
     */
    private List<NewExtent> compressed(byte[] buf, MountOptions.Compression c) throws FsException {
        List<NewExtent> out = new ArrayList<>();
        boolean any = false;
        BlockGroups groups = w.manager().blockGroups();
        try {
            for (int pos = 0; pos < buf.length; pos += Decompressor.MAX_UNCOMPRESSED) {
                int len = Math.min(Decompressor.MAX_UNCOMPRESSED, buf.length - pos);
                byte[] z = len > ss ? Compressor.compress(c.type(), c.level(), buf, pos, len, ss) : null;
                long diskBytes = z == null ? len : (z.length + ss - 1) / ss * ss;
                if (z == null || diskBytes + ss > len) {
                    int piece = pos;
                    for (long[] p : allocateData(len)) {
                        out.add(new NewExtent(p[0], p[1], p[1], CompressionType.NONE, buf, piece));
                        piece += (int) p[1];
                    }
                    continue;
                }
                long at = groups.allocate(BlockGroupFlags.DATA, diskBytes, ss);
                out.add(new NewExtent(at, diskBytes, len, c.type(), Arrays.copyOf(z, (int) diskBytes), 0));
                any = true;
            }
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC) throw e;
            for (NewExtent x : out) groups.release(x.bytenr, x.diskBytes);
            return null;
        }
        if (!any) {
            for (NewExtent x : out) groups.release(x.bytenr, x.diskBytes);
            return List.of();
        }
        w.manager().requireIncompat(c.type().incompatBit());
        return out;
    }

    /**
     * As the kernel: a file whose data did not compress is not tried again (unless forced, or it asked for
     * compression itself).
     */
    private void markIncompressible(InodeId file, MountOptions.Compression c) throws FsException {
        InodeItem i = w.load(file);
        if (!c.force() && (i.flags() & InodeItem.FLAG_COMPRESS) == 0) {
            w.save(file, i.withFlags(i.flags() | InodeItem.FLAG_NOCOMPRESS));
        }
    }

    /**
     * The file's last extent when a write of {@code length} bytes from {@code aStart} appends to it and both fit in
     * one compressed extent: this transaction compressed it, nothing else refers to it, the write reaches its end.
     * Appends of a few KiB each (tar, a log) then end up compressed together, as the kernel's delayed allocation
     * compresses them, not one small extent per write; null otherwise.
     */
    private Extent compressedTail(InodeId file, long aStart, int length) throws FsException {
        if (aStart == 0) return null;
        List<Extent> before = extents(file, aStart - 1, aStart);
        if (before.size() != 1) return null;
        Extent x = before.get(0);
        FileExtentItem fe = x.fe;
        if (fe.type() != FileExtentItem.TYPE_REG || fe.compression() == 0 || fe.diskBytenr() == 0
                || fe.offset() != 0 || fe.numBytes() != fe.ramBytes() || x.start >= aStart
                || before(aStart + length, x.end) || aStart - x.start >= GATHER_LIMIT
                || aStart - x.start + length > Decompressor.MAX_UNCOMPRESSED
                || !extents(file, x.end, TO_END).isEmpty()) {
            return null;
        }
        return w.tx().dataRefs().onlyNewRef(fe.diskBytenr(), new DataRefs.Ref(file.root(), file.objectid(), x.start))
                ? x : null;
    }

    /**
     * Gives back at once an extent this transaction made whose last reference it dropped (its space would
     * otherwise stay taken until the commit), with its checksums.
     */
    private void releaseUnreferenced(FileExtentItem fe) throws FsException {
        DataRefs refs = w.tx().dataRefs();
        if (!refs.unreferencedNew(fe.diskBytenr())) return;
        refs.forget(fe.diskBytenr());
        w.manager().csums().delete(w.tx(), fe.diskBytenr(), fe.diskNumBytes());
        w.manager().blockGroups().release(fe.diskBytenr(), fe.diskNumBytes());
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
        List<Extent> before = extents(file, sizeUp - 1, sizeUp);
        if (before.size() != 1 || !extents(file, sizeUp, TO_END).isEmpty()) return false;
        Extent x = before.get(0);
        FileExtentItem fe = x.fe;
        if (x.end != sizeUp || x.start > aStart - (rewrite == 0 ? 1 : 0) || fe.type() != FileExtentItem.TYPE_REG
                || fe.compression() != 0 || fe.diskBytenr() == 0 || fe.offset() != 0
                || fe.numBytes() != fe.diskNumBytes() || fe.diskNumBytes() + buf.length - rewrite > MAX_EXTENT) {
            return false;
        }
        DataRefs.Ref ref = new DataRefs.Ref(file.root(), file.objectid(), x.start);
        if (!w.tx().dataRefs().onlyNewRef(fe.diskBytenr(), ref)) return false;
        long tail = fe.diskBytenr() + fe.diskNumBytes();
        long at = tail - rewrite;
        long more = buf.length - rewrite;
        w.reserveMetadata(6);
        if (more > 0 && !w.manager().blockGroups().tryTake(tail, more, BlockGroupFlags.DATA)) return false;
        try {
            writeData(List.of(new long[] {at, buf.length}), buf);
        } catch (IOException e) {
            if (more > 0) w.manager().blockGroups().release(tail, more);
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
        long grown = fe.diskNumBytes() + more;
        w.tx().editor().put(w.root(file.root()), x.key, FileExtentItem.encodeRegular(w.transid(),
                FileExtentItem.TYPE_REG, fe.diskBytenr(), grown, 0, grown, grown));
        w.tx().dataRefs().grow(fe.diskBytenr(), grown);
        if ((inode.flags() & InodeItem.FLAG_NODATASUM) == 0) {
            if (rewrite > 0) w.manager().csums().delete(w.tx(), at, rewrite);
            w.manager().csums().insert(w.tx(), at, checksums(buf, 0, buf.length));
        }
        InodeItem i = w.load(file);
        Timespec now = InodeWriter.now();
        w.save(file, i.withSize(Math.max(i.size(), end)).withNbytes(i.nbytes() + more)
                .withTimes(i.atime(), now, now));
        return true;
    }

    /**
     * A write that lands inside one preallocated extent goes into that extent's own space (no copy): the range
     * becomes a regular extent between what is left preallocated, as the kernel's nocow path does. Only when no
     * one else can see the extent (its references are all this file's, and no snapshot shares the leaf); the old
     * state read zeros there, so a crash before the commit shows nothing of it. False when that does not apply.
     */
    private boolean writeIntoPrealloc(InodeId file, long aStart, byte[] buf, long end, boolean growSize)
            throws FsException {
        long aEnd = aStart + buf.length;
        List<Extent> hits = extents(file, aStart, aEnd);
        if (hits.size() != 1) return false;
        Extent x = hits.get(0);
        FileExtentItem fe = x.fe;
        if (!fe.isPrealloc() || fe.compression() != 0 || x.start > aStart || before(x.end, aEnd)) return false;
        DataRefs.Ref ref = new DataRefs.Ref(file.root(), file.objectid(), x.start - fe.offset());
        if (!onlyThisFileSees(file, fe, ref)) return false;
        w.reserveMetadata(8);
        long physical = fe.diskBytenr() + fe.offset() + (aStart - x.start);
        try {
            writeData(List.of(new long[] {physical, buf.length}), buf);
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
        TreeRoot root = w.root(file.root());
        long transid = w.transid();
        // the written range joins the written pieces of the same extent right before and after it, as the kernel's
        // btrfs_mark_extent_written merges them: a preallocated file written through ends in one item per extent
        Extent left = x.start == aStart ? writtenPieceAt(file, aStart - 1, aStart, fe, ref) : null;
        Extent right = aEnd == x.end ? writtenPieceAt(file, aEnd, aEnd, fe, ref) : null;
        w.tx().editor().delete(root, x.key);
        int items = -1;
        if (x.start < aStart) {
            w.tx().editor().insert(root, x.key, fe.encodeSlice(fe.offset(), aStart - x.start));
            items++;
        }
        for (Extent merged : new Extent[] {left, right}) {
            if (merged == null) continue;
            w.tx().editor().delete(root, merged.key);
            items--;
        }
        long regStart = left != null ? left.start : aStart;
        long regEnd = right != null ? right.end : aEnd;
        w.tx().editor().insert(root, new Key(file.objectid(), KeyType.EXTENT_DATA, regStart),
                FileExtentItem.encodeRegular(transid, FileExtentItem.TYPE_REG, fe.diskBytenr(), fe.diskNumBytes(),
                        regStart - ref.offset(), regEnd - regStart, fe.ramBytes()));
        items++;
        if (before(aEnd, x.end)) {
            w.tx().editor().insert(root, new Key(file.objectid(), KeyType.EXTENT_DATA, aEnd),
                    fe.encodeSlice(fe.offset() + (aEnd - x.start), x.end - aEnd));
            items++;
        }
        if (items != 0) w.tx().dataRefs().change(fe.diskBytenr(), fe.diskNumBytes(), ref, items);
        InodeItem i = w.load(file);
        if ((i.flags() & InodeItem.FLAG_NODATASUM) == 0) {
            w.manager().csums().insert(w.tx(), physical, checksums(buf, 0, buf.length));
        }
        Timespec now = InodeWriter.now();
        w.save(file, i.withSize(growSize ? Math.max(i.size(), end) : i.size()).withTimes(i.atime(), now, now));
        return true;
    }

    /**
     * The regular item of the same extent as {@code prealloc} (and the same reference {@code ref}) that holds file
     * offset {@code at} and has {@code edge} as its end or start, or null: a written piece to merge with.
     */
    private Extent writtenPieceAt(InodeId file, long at, long edge, FileExtentItem prealloc, DataRefs.Ref ref)
            throws FsException {
        if (at < 0) return null;
        List<Extent> hits = extents(file, at, at + 1);
        if (hits.size() != 1) return null;
        Extent y = hits.get(0);
        FileExtentItem fe = y.fe;
        boolean touches = y.end == edge || y.start == edge;
        return touches && fe.type() == FileExtentItem.TYPE_REG && fe.compression() == 0
                && fe.diskBytenr() == prealloc.diskBytenr() && y.start - fe.offset() == ref.offset() ? y : null;
    }

    /**
     * A NODATACOW file (chattr +C) is overwritten where its data is, as the kernel's nocow path writes it: when the
     * write lies inside one regular, uncompressed extent that no one else sees (no reflink, no snapshot since it was
     * written), the bytes go over the old ones and only the inode's size and times change. Such files keep no
     * checksums (NODATASUM comes with NODATACOW); one that has them is copied on write, as the kernel does when
     * csums exist in the range. Like the kernel's, such an overwrite is not atomic across a crash. False when this
     * does not apply.
     */
    private boolean overwriteNoDataCow(InodeId file, InodeItem inode, long aStart, byte[] buf, long end,
                                       boolean growSize) throws FsException {
        long nocow = InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM;
        if ((inode.flags() & nocow) != nocow) return false;
        long aEnd = aStart + buf.length;
        List<Extent> hits = extents(file, aStart, aEnd);
        if (hits.size() != 1) return false;
        Extent x = hits.get(0);
        FileExtentItem fe = x.fe;
        if (fe.type() != FileExtentItem.TYPE_REG || fe.compression() != 0 || fe.diskBytenr() == 0
                || x.start > aStart || before(x.end, aEnd)) {
            return false;
        }
        DataRefs.Ref ref = new DataRefs.Ref(file.root(), file.objectid(), x.start - fe.offset());
        if (!onlyThisFileSees(file, fe, ref)) return false;
        w.reserveMetadata(2);
        try {
            writeData(List.of(new long[] {fe.diskBytenr() + fe.offset() + (aStart - x.start), buf.length}), buf);
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
        InodeItem i = w.load(file);
        Timespec now = InodeWriter.now();
        w.save(file, i.withSize(growSize ? Math.max(i.size(), end) : i.size()).withTimes(i.atime(), now, now));
        return true;
    }

    /**
     * Whether extent {@code fe} is referenced only through {@code ref} (this file) and no snapshot may share a
     * leaf that points at it: made in this transaction, or committed with all its references this file's and
     * written after the subvolume's last snapshot.
     */
    private boolean onlyThisFileSees(InodeId file, FileExtentItem fe, DataRefs.Ref ref) throws FsException {
        DataRefs refs = w.tx().dataRefs();
        if (refs.allocatedHere(fe.diskBytenr())) return refs.onlyRef(fe.diskBytenr(), ref);
        w.root(jbtrfs.format.ObjectIds.EXTENT_TREE);
        Cursor c = w.tx().tree(jbtrfs.format.ObjectIds.EXTENT_TREE).find(
                new Key(fe.diskBytenr(), KeyType.EXTENT_ITEM, fe.diskNumBytes()));
        if (c == null) return false;
        jbtrfs.format.ExtentItem item = c.decode((b, off, size) -> jbtrfs.format.ExtentItem.read(b, off, size, false));
        if (item.generation() <= w.lastSnapshot(file.root())) return false;
        long mine = 0;
        for (jbtrfs.format.ExtentItem.InlineRef r : item.inlineRefs()) {
            if (r.type() == KeyType.EXTENT_DATA_REF && r.root() == ref.root() && r.objectid() == ref.objectid()
                    && r.fileOffset() == ref.offset()) {
                mine += r.count();
            }
        }
        long[] pending = refs.pending(fe.diskBytenr(), ref);
        return mine > 0 && item.refs() + pending[0] == mine + pending[1];
    }

    /** Extents for {@code length} bytes: as few as the free space allows, none over 128 MiB; all or nothing. */
    private List<long[]> allocateData(long length) throws FsException {
        // a range of 2^63 bytes (fallocate of every file offset) reads negative here: no device holds it
        if (length < 0) throw new FsException(Errno.ENOSPC, "no data space left for " + Long.toUnsignedString(length) + " bytes");
        BlockGroups groups = w.manager().blockGroups();
        List<long[]> out = new ArrayList<>();
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
                out.add(new long[] {at, want});
                left -= want;
            }
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC) throw e;
            for (long[] p : out) groups.release(p[0], p[1]);
            throw new FsException(Errno.ENOSPC, "no data space left for " + length + " bytes");
        }
        return out;
    }

    /** Sends {@code buf} to the pieces without waiting (the device copies it); the commit waits for the writes. */
    private void writeData(List<long[]> pieces, byte[] buf) throws IOException {
        int pos = 0;
        for (long[] p : pieces) {
            // a piece never crosses chunks: allocation gives each one inside one block group
            volume.writeBehind(p[0], ByteBuffer.wrap(buf, pos, (int) p[1]).slice());
            pos += (int) p[1];
        }
    }

    private byte[] checksums(byte[] buf, int from, int length) {
        int size = csumType.size();
        byte[] out = new byte[length / ss * size];
        byte[] one = new byte[ChecksumType.CSUM_SIZE];
        ByteBuffer b = ByteBuffer.wrap(buf);
        for (int s = 0; s < length / ss; s++) {
            java.util.Arrays.fill(one, (byte) 0);
            csumType.compute(b, from + s * ss, ss, one);
            System.arraycopy(one, 0, out, s * size, size);
        }
        return out;
    }

    private void insertExtent(InodeId file, long fileOffset, long bytenr, long length, int type, long transid)
            throws FsException {
        insertExtent(file, fileOffset, type, bytenr, length, length, CompressionType.NONE, transid);
    }

    private void insertExtent(InodeId file, long fileOffset, NewExtent x, long transid) throws FsException {
        insertExtent(file, fileOffset, FileExtentItem.TYPE_REG, x.bytenr, x.diskBytes, x.numBytes, x.compression,
                transid);
    }

    /** A new extent's file extent item and its one reference; ram_bytes is the file bytes it holds. */
    private void insertExtent(InodeId file, long fileOffset, int type, long bytenr, long diskBytes, long numBytes,
                              CompressionType compression, long transid) throws FsException {
        w.tx().editor().insert(w.root(file.root()), new Key(file.objectid(), KeyType.EXTENT_DATA, fileOffset),
                FileExtentItem.encode(transid, type, compression.code(), bytenr, diskBytes, 0, numBytes, numBytes));
        DataRefs refs = w.tx().dataRefs();
        refs.created(bytenr, diskBytes);
        refs.change(bytenr, diskBytes, new DataRefs.Ref(file.root(), file.objectid(), fileOffset), 1);
    }

    /**
     * Explicit hole items for the parts of [from, to) no extent covers (images without NO_HOLES need every byte
     * below i_size covered; preallocated extents past EOF may already sit there).
     */
    private void fillHole(InodeId file, long from, long to) throws FsException {
        if (!before(from, to)) return;
        long at = from;
        for (Extent x : extents(file, from, to)) {
            if (before(at, x.start)) putHole(file, at, x.start);
            at = FileOffsets.max(at, x.end);
        }
        if (before(at, to)) putHole(file, at, to);
    }

    private void putHole(InodeId file, long from, long to) throws FsException {
        w.tx().editor().put(w.root(file.root()), new Key(file.objectid(), KeyType.EXTENT_DATA, from),
                FileExtentItem.encodeRegular(w.transid(), FileExtentItem.TYPE_REG, 0, 0, 0, to - from, to - from));
    }

    /** truncate(2). */
    void truncate(InodeId file, long size) throws FsException {
        if (size < 0) throw new FsException(Errno.EINVAL, "negative size");
        w.checkWritable(file.root());
        InodeItem inode = regular(file);
        InodeWriter.refuseIf(inode, InodeWriter.IMMUTABLE_OR_APPEND, file, "truncate");
        Timespec now = InodeWriter.now();
        long old = inode.size();
        if (size < old) {
            w.reserveMetadata(8);
            if (hasInline(file)) {
                // the kept bytes are written again: inline, compressed inline, or (a compressed inline file cut
                // to more than max_inline that no longer compresses enough) one sector
                byte[] keep = new byte[(int) size];
                readInto(file, 0, keep, keep.length);
                long removed = dropExtents(file, 0, TO_END);
                InodeItem i = w.load(file);
                w.save(file, i.withSize(0).withNbytes(i.nbytes() - removed).withTimes(i.atime(), now, now));
                if (keep.length > 0) write(file, 0, ByteBuffer.wrap(keep));
                return;
            }
            long removed = dropExtents(file, roundUp(size, ss), TO_END);
            InodeItem i = w.load(file);
            w.save(file, i.withSize(size).withNbytes(i.nbytes() - removed).withTimes(i.atime(), now, now));
            return;
        }
        if (size > old) {
            if (hasInline(file) && size > inlineLimit()) {
                byte[] content = new byte[(int) old];
                readInto(file, 0, content, content.length);
                writeRegular(file, 0, content);
            } else {
                zeroTailOfLastSector(file, inode, size);
            }
            w.reserveMetadata(4);
            if (!noHoles) fillHole(file, roundUp(old, ss), roundUp(size, ss));
        }
        InodeItem i = w.load(file);
        w.save(file, i.withSize(size).withTimes(i.atime(), now, now));
    }

    /** fallocate(2): preallocate holes in the range, punch one, or zero the range (preallocating it). */
    void fallocate(InodeId file, int mode, long offset, long length) throws FsException {
        if (offset < 0 || length <= 0) throw new FsException(Errno.EINVAL, "bad fallocate range");
        // as vfs_fallocate, for every mode: an end past the largest file size, or one that wraps, is EFBIG
        if (offset > MAX_FILE_SIZE - length) throw new FsException(Errno.EFBIG, "fallocate past the largest file size");
        w.checkWritable(file.root());
        InodeItem inode = regular(file);
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
        Timespec now = InodeWriter.now();
        if ((mode & FsOperations.FALLOC_FL_PUNCH_HOLE) != 0) {
            if (!keepSize || zero) throw new FsException(Errno.EOPNOTSUPP, "fallocate mode " + mode);
            end = Math.min(end, inode.size());
            if (end <= offset) return;
            if (hasInline(file)) {
                byte[] zeros = new byte[(int) (end - offset)];
                write(file, offset, ByteBuffer.wrap(zeros));
            } else {
                long s = roundUp(offset, ss);
                long e = end / ss * ss;
                if (before(e, s)) {
                    writeRegular(file, offset, new byte[(int) (end - offset)]);
                } else {
                    if (offset < s) writeRegular(file, offset, new byte[(int) (s - offset)]);
                    if (e < end) writeRegular(file, e, new byte[(int) (end - e)]);
                    w.reserveMetadata(8);
                    long removed = dropExtents(file, s, e);
                    if (!noHoles && before(s, e)) fillHole(file, s, e);
                    InodeItem i = w.load(file);
                    w.save(file, i.withNbytes(i.nbytes() - removed).withTimes(i.atime(), now, now));
                }
            }
            return;
        }
        long size = inode.size();
        long s = offset / ss * ss;
        long e = roundUp(end, ss);
        if (zero) {
            // every whole sector of the range gets a new preallocated extent; a partial sector that still holds
            // file bytes outside the range keeps its extent and is zeroed by a write (as btrfs_zero_range does)
            if (offset % ss != 0 && s < size) s += ss;
            if (end % ss != 0 && end < size) e -= ss;
        }
        if (hasInline(file) && (!zero || before(s, e))) {
            byte[] content = new byte[(int) size];
            readInto(file, 0, content, content.length);
            writeRegular(file, 0, content);
        }
        List<long[]> gaps = new ArrayList<>();
        if (zero) {
            if (before(s, e)) gaps.add(new long[] {s, e});
        } else {
            // find the holes and allocate all of them before any edit: ENOSPC leaves the file as it was
            long at = s;
            for (Extent x : extents(file, s, e)) {
                if (x.fe.isHole()) continue;
                if (x.start > at) gaps.add(new long[] {at, x.start});
                at = FileOffsets.max(at, x.end);
            }
            if (before(at, e)) gaps.add(new long[] {at, e});
        }
        List<List<long[]>> space = new ArrayList<>();
        try {
            for (long[] g : gaps) space.add(allocateData(g[1] - g[0]));
            // the partial sectors' zeros: a write that runs out of space here gives the allocations back
            if (zero) {
                long headEnd = Math.min(FileOffsets.min(FileOffsets.max(s, offset), end), size);
                if (offset < headEnd) write(file, offset, ByteBuffer.wrap(new byte[(int) (headEnd - offset)]));
                long tailStart = FileOffsets.max(FileOffsets.max(e, s), offset);
                if (before(tailStart, end) && end < size) {
                    write(file, tailStart, ByteBuffer.wrap(new byte[(int) (end - tailStart)]));
                }
            }
            // preallocation keeps the extent under the last sector, so its bytes past EOF are zeroed up to the
            // range's end, as btrfs_fallocate zeroes the block at i_size (zeroing writes the sectors it cannot keep)
            zeroTailOfLastSector(file, w.load(file), zero ? FileOffsets.max(s, offset) : end);
        } catch (FsException | RuntimeException x) {
            for (List<long[]> ps : space) for (long[] p : ps) w.manager().blockGroups().release(p[0], p[1]);
            throw x;
        }
        w.reserveMetadata(5 + 4 * gaps.size());
        long added = 0;
        long removed = 0;
        long transid = w.transid();
        for (int g = 0; g < gaps.size(); g++) {
            long from = gaps.get(g)[0];
            removed += dropExtents(file, from, gaps.get(g)[1]); // holes only, unless zeroing
            for (long[] p : space.get(g)) {
                insertExtent(file, from, p[0], p[1], FileExtentItem.TYPE_PREALLOC, transid);
                from += p[1];
            }
            added += gaps.get(g)[1] - gaps.get(g)[0];
        }
        InodeItem i = w.load(file);
        long newSize = keepSize ? i.size() : Math.max(i.size(), end);
        if (!noHoles) fillHole(file, roundUp(i.size(), ss), roundUp(newSize, ss));
        long flags = gaps.isEmpty() ? i.flags() : i.flags() | InodeItem.FLAG_PREALLOC;
        w.save(file, i.withSize(newSize).withNbytes(i.nbytes() - removed + added).withFlags(flags)
                .withTimes(i.atime(), now, keepSize && !zero ? i.mtime() : now));
    }

    /** Deletes an inode with no names left and everything keyed under it, dropping its extents' references. */
    void deleteInode(InodeId id) throws FsException {
        dropExtents(id, 0, TO_END);
        TreeRoot root = w.root(id.root());
        List<Key> keys = new ArrayList<>();
        Cursor c = w.tree(id.root()).seek(Key.first(id.objectid(), 0));
        while (c.valid() && c.key().objectid() == id.objectid()) {
            keys.add(c.key());
            c.next();
        }
        for (Key k : keys) w.tx().editor().delete(root, k);
    }

    // ---- extents ----

    /** A file extent item and the file range it covers; {@code end} is unsigned (the last extent may end at 2^63). */
    private record Extent(Key key, FileExtentItem fe, long start, long end) {
    }

    /** The file extent items that overlap [from, to). */
    private List<Extent> extents(InodeId file, long from, long to) throws FsException {
        List<Extent> out = new ArrayList<>();
        long ino = file.objectid();
        Cursor c = w.tree(file.root()).seekFloor(new Key(ino, KeyType.EXTENT_DATA, from));
        if (!c.valid() || c.key().objectid() != ino || c.key().type() != KeyType.EXTENT_DATA) {
            c = w.tree(file.root()).seek(new Key(ino, KeyType.EXTENT_DATA, 0));
        }
        while (c.valid()) {
            Key k = c.key();
            if (k.objectid() != ino || k.type() != KeyType.EXTENT_DATA) break;
            if (Long.compareUnsigned(k.offset(), to) >= 0) break;
            FileExtentItem fe = c.decode(FileExtentItem::read);
            long s = k.offset();
            long e = fe.isInline() ? s + Math.max(fe.ramBytes(), 1) : s + fe.numBytes();
            if (before(from, e)) out.add(new Extent(k, fe, s, e));
            c.next();
        }
        return out;
    }

    private boolean hasInline(InodeId file) throws FsException {
        for (Extent e : extents(file, 0, 1)) if (e.fe.isInline()) return true;
        return false;
    }

    /**
     * Cuts [from, to) out of the file's extents: items inside go, items across an end keep their outside part
     * (same extent, adjusted offset), back references follow. Returns the bytes the inode no longer holds.
     */
    private long dropExtents(InodeId file, long from, long to) throws FsException {
        TreeRoot root = w.root(file.root());
        long removed = 0;
        long transid = w.transid();
        DataRefs refs = w.tx().dataRefs();
        for (Extent x : extents(file, from, to)) {
            w.tx().editor().delete(root, x.key);
            if (x.fe.isInline()) {
                removed += x.fe.ramBytes();
                continue;
            }
            boolean hole = x.fe.isHole();
            int kept = 0;
            if (before(x.start, from)) {
                w.tx().editor().insert(root, x.key, x.fe.encodeSlice(x.fe.offset(), from - x.start));
                kept++;
            }
            if (before(to, x.end)) {
                w.tx().editor().insert(root, new Key(file.objectid(), KeyType.EXTENT_DATA, to),
                        x.fe.encodeSlice(x.fe.offset() + (to - x.start), x.end - to));
                kept++;
            }
            if (!hole) {
                removed += FileOffsets.min(x.end, to) - FileOffsets.max(x.start, from);
                if (kept != 1) {
                    refs.change(x.fe.diskBytenr(), x.fe.diskNumBytes(),
                            new DataRefs.Ref(file.root(), file.objectid(), x.start - x.fe.offset()), kept - 1);
                }
            }
        }
        return removed;
    }

    // ---- helpers ----

    private InodeItem regular(InodeId file) throws FsException {
        InodeItem i = w.load(file);
        int type = i.mode() & Stat.S_IFMT;
        if (type == Stat.S_IFDIR) throw new FsException(Errno.EISDIR, file + " is a directory");
        if (type != Stat.S_IFREG) throw new FsException(Errno.EINVAL, file + " is not a regular file");
        return i;
    }

    /** Reads the file's current bytes (zeros past EOF) into dst[0, length). */
    private void readInto(InodeId file, long offset, byte[] dst, int length) throws FsException {
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
