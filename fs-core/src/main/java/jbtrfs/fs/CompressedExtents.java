package jbtrfs.fs;

import static jbtrfs.fs.FileOffsets.TO_END;
import static jbtrfs.fs.FileOffsets.before;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.compress.CompressionType;
import jbtrfs.compress.Compressor;
import jbtrfs.compress.Decompressor;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.tx.DataRefs;

/**
 * Compressed writes (≈ compress_file_range): whether a file's data is compressed and how, each 128 KiB of a write
 * compressed into its own extent, files that do not compress marked so, and small appends gathered into the
 * compressed extent they follow.
 */
final class CompressedExtents {
    /**
     * A compressed tail this long takes no more appends: each append compresses the whole tail again, and on an
     * untar of /usr/include (10 KiB writes, zstd) stopping at 64 KiB cost 4% more data bytes than at 128 KiB and
     * saved 14% of the time.
     */
    private static final int GATHER_LIMIT = 64 * 1024;
    private static final byte[] COMPRESSION_PROP = XattrWriter.COMPRESSION_PROP.getBytes(StandardCharsets.UTF_8);

    private final InodeWriter w;
    private final FileExtents extents;
    private final DataSpace space;
    /** The compress mount option, or null. */
    private final MountOptions.Compression compression;
    private final int ss;

    CompressedExtents(InodeWriter w, FileExtents extents, DataSpace space, MountOptions.Compression compression) {
        this.w = w;
        this.extents = extents;
        this.space = space;
        this.compression = compression;
        this.ss = w.sectorsize();
    }

    /**
     * How the file's writes are compressed, or null (≈ inode_need_compress): never for nodatasum or nodatacow
     * files; compress-force always; else not for files marked NOCOMPRESS, and only with a compress option or the
     * COMPRESS flag (chattr +c, the btrfs.compression property). The property names the type, else the option
     * does, else zlib (≈ compress_file_range).
     */
    MountOptions.Compression compressionFor(InodeId file, InodeItem inode) throws FsException {
        long flags = inode.flags();
        if ((flags & (InodeItem.FLAG_NODATASUM | InodeItem.FLAG_NODATACOW)) != 0) return null;
        boolean flagged = (flags & InodeItem.FLAG_COMPRESS) != 0;
        boolean force = compression != null && compression.force();
        if (!force && ((flags & InodeItem.FLAG_NOCOMPRESS) != 0 || (compression == null && !flagged))) return null;
        byte[] prop = flagged ? XattrWriter.get(w, file, COMPRESSION_PROP) : null;
        CompressionType type = prop == null ? null
                : XattrWriter.compressionOf(new String(prop, StandardCharsets.ISO_8859_1));
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
    List<FileExtents.NewExtent> compress(byte[] buf, MountOptions.Compression c) throws FsException {
        List<FileExtents.NewExtent> out = new ArrayList<>();
        boolean any = false;
        BlockGroups groups = w.manager().blockGroups();
        try {
            for (int pos = 0; pos < buf.length; pos += Decompressor.MAX_UNCOMPRESSED) {
                int len = Math.min(Decompressor.MAX_UNCOMPRESSED, buf.length - pos);
                byte[] z = len > ss ? Compressor.compress(c.type(), c.level(), buf, pos, len, ss) : null;
                long diskBytes = z == null ? len : (z.length + ss - 1) / ss * ss;
                if (z == null || diskBytes + ss > len) {
                    int piece = pos;
                    for (DataSpace.DiskExtent p : space.allocate(len)) {
                        out.add(new FileExtents.NewExtent(p.bytenr(), p.numBytes(), p.numBytes(),
                                CompressionType.NONE, buf, piece));
                        piece += (int) p.numBytes();
                    }
                    continue;
                }
                long at = groups.allocate(BlockGroupFlags.DATA, diskBytes, ss);
                out.add(new FileExtents.NewExtent(at, diskBytes, len, c.type(), Arrays.copyOf(z, (int) diskBytes), 0));
                any = true;
            }
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC) throw e;
            for (FileExtents.NewExtent x : out) groups.release(x.bytenr(), x.diskBytes());
            return null;
        }
        if (!any) {
            for (FileExtents.NewExtent x : out) groups.release(x.bytenr(), x.diskBytes());
            return List.of();
        }
        w.manager().requireIncompat(c.type().incompatBit());
        return out;
    }

    /**
     * As the kernel: a file whose data did not compress is not tried again (unless forced, or it asked for
     * compression itself).
     */
    void markIncompressible(InodeId file, MountOptions.Compression c) throws FsException {
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
    FileExtents.Extent gatherableTail(InodeId file, long aStart, int length) throws FsException {
        if (aStart == 0) return null;
        List<FileExtents.Extent> before = extents.overlapping(file, aStart - 1, aStart);
        if (before.size() != 1) return null;
        FileExtents.Extent x = before.get(0);
        FileExtentItem fe = x.fe();
        if (fe.type() != FileExtentItem.TYPE_REG || fe.compression() == 0 || fe.diskBytenr() == 0
                || fe.offset() != 0 || fe.numBytes() != fe.ramBytes() || x.start() >= aStart
                || before(aStart + length, x.end()) || aStart - x.start() >= GATHER_LIMIT
                || aStart - x.start() + length > Decompressor.MAX_UNCOMPRESSED
                || !extents.overlapping(file, x.end(), TO_END).isEmpty()) {
            return null;
        }
        return w.tx().dataRefs().onlyNewRef(fe.diskBytenr(), new DataRefs.Ref(file.root(), file.objectid(), x.start()))
                ? x : null;
    }
}
