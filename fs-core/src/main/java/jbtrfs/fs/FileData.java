package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.compress.Decompressor;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;

/**
 * File contents from EXTENT_DATA items: inline, regular (possibly a slice of a larger or shared extent),
 * prealloc (zeros), holes (explicit or NO_HOLES gaps), compressed (zlib, lzo, zstd).
 */
final class FileData {
    private static final int DECOMPRESSED_CACHE_ENTRIES = 64;

    private final Subvolumes subvolumes;
    private final Inodes inodes;
    private final DataReader data;
    private final int sectorsize;
    private final Map<Long, byte[]> decompressed = new LinkedHashMap<>(DECOMPRESSED_CACHE_ENTRIES, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
            return size() > DECOMPRESSED_CACHE_ENTRIES;
        }
    };

    FileData(Subvolumes subvolumes, Inodes inodes, DataReader data) {
        this.subvolumes = subvolumes;
        this.inodes = inodes;
        this.data = data;
        this.sectorsize = data.sectorsize();
    }

    int read(InodeId file, long offset, ByteBuffer dst) throws IOException {
        InodeItem inode = inodes.item(file);
        if ((inode.mode() & Stat.S_IFMT) == Stat.S_IFDIR) throw new FsException(Errno.EISDIR, "inode " + file);
        if (offset < 0 || offset >= inode.size() || !dst.hasRemaining()) return 0;
        int want = (int) Math.min(dst.remaining(), inode.size() - offset);
        ByteBuffer out = dst.slice(dst.position(), want);
        readRange(file, inode, offset, out);
        dst.position(dst.position() + want);
        return want;
    }

    /**
     * Fills {@code out} (position 0 to its limit) with the file's bytes from {@code offset}, within i_size.
     * Uncompressed sectors are read straight into {@code out}; anything no extent covers is zero.
     */
    void readRange(InodeId file, InodeItem inode, long offset, ByteBuffer out) throws IOException {
        BTree tree = subvolumes.tree(file.root());
        long ino = file.objectid();
        long end = offset + out.limit();
        // only what no extent fills is zeroed: a read of 1 MiB would otherwise write every byte twice
        int filled = 0;
        Cursor c = tree.seekFloor(new Key(ino, KeyType.EXTENT_DATA, offset));
        if (!c.valid() || c.key().objectid() != ino || c.key().type() != KeyType.EXTENT_DATA) {
            c = tree.seek(new Key(ino, KeyType.EXTENT_DATA, 0));
        }
        boolean verify = (inode.flags() & InodeItem.FLAG_NODATASUM) == 0;
        while (c.valid()) {
            Key k = c.key();
            if (k.objectid() != ino || k.type() != KeyType.EXTENT_DATA || Long.compareUnsigned(k.offset(), end) >= 0) {
                break;
            }
            FileExtentItem fe = c.decode(FileExtentItem::read);
            if (fe.isInline()) checkInline(c, fe);
            long extStart = k.offset();
            long extEnd = extStart + (fe.isInline() ? fe.ramBytes() : fe.numBytes());
            long from = Math.max(offset, extStart);
            long to = FileOffsets.min(end, extEnd); // an extent may end at 2^63
            if (FileOffsets.before(from, to)) {
                int at = (int) (from - offset);
                zero(out, filled, at);
                copyExtent(file, c, fe, extStart, from, to, out, at, verify);
                filled = Math.max(filled, at + (int) (to - from));
            }
            c.next();
        }
        zero(out, filled, out.limit());
    }

    private static final byte[] ZEROS = new byte[64 << 10];

    private static void zero(ByteBuffer out, int from, int to) {
        for (int at = from; at < to; at += ZEROS.length) {
            out.put(at, ZEROS, 0, Math.min(ZEROS.length, to - at));
        }
    }

    private void copyExtent(InodeId file, Cursor c, FileExtentItem fe, long extStart, long from, long to,
                            ByteBuffer out, int outPos, boolean verify) throws IOException {
        int n = (int) (to - from);
        DataReader.Site what = new DataReader.Site(file, from);
        if (fe.encryption() != 0 || fe.otherEncoding() != 0) {
            throw new FsException(Errno.EIO, "unsupported extent encoding (encryption " + fe.encryption() + ", other "
                    + fe.otherEncoding() + ") in " + what);
        }
        if (fe.isInline()) {
            byte[] inline = inlineData(c, fe, file);
            int src = (int) (from - extStart);
            int avail = Math.max(0, Math.min(n, inline.length - src));
            out.put(outPos, inline, src, avail);
            zero(out, outPos + avail, outPos + n);
            return;
        }
        if (fe.isHole() || fe.isPrealloc()) {
            zero(out, outPos, outPos + n);
            return;
        }
        long inExtent = fe.offset() + (from - extStart);
        if (fe.compression() != 0) {
            byte[] plain = decompressedExtent(fe, verify, what);
            if (inExtent < 0 || inExtent + n > plain.length) { // offset is unsigned on disk
                throw new CorruptBlockException(file.root(), c.leaf().bytenr(), c.slot(), "file extent reaches byte "
                        + Long.toUnsignedString(inExtent + n) + " of a compressed extent of " + plain.length + " bytes");
            }
            out.put(outPos, plain, (int) inExtent, n);
            return;
        }
        long logical = fe.diskBytenr() + inExtent;
        int head = (int) Math.floorMod(logical, sectorsize);
        // whole sectors go straight into the caller's buffer; a partial first or last sector goes through a copy
        int direct = head == 0 ? n / sectorsize * sectorsize : 0;
        if (direct > 0) {
            data.read(logical, direct, out.duplicate().position(outPos), verify, what);
        }
        if (direct < n) {
            long rest = logical + direct;
            long alignedStart = rest - Math.floorMod(rest, sectorsize);
            long alignedEnd = (logical + n + sectorsize - 1) / sectorsize * sectorsize;
            ByteBuffer tmp = ByteBuffer.allocate((int) (alignedEnd - alignedStart));
            data.read(alignedStart, tmp.capacity(), tmp, verify, what);
            out.put(outPos + direct, tmp, (int) (rest - alignedStart), n - direct);
        }
    }

    /**
     * An inline extent's ram_bytes as the kernel's tree-checker holds it: uncompressed, the bytes the item holds;
     * compressed, at most a sector (only files below max_inline, at most a sector, are inlined). A damaged one
     * would end the extent anywhere, or size a buffer to it.
     */
    private void checkInline(Cursor c, FileExtentItem fe) throws CorruptBlockException {
        if (fe.compression() == 0 && fe.ramBytes() != fe.inlineSize()) {
            throw c.corrupt("inline extent of ram_bytes " + Long.toUnsignedString(fe.ramBytes()) + " holds "
                    + fe.inlineSize() + " bytes");
        }
        if (fe.compression() != 0 && (fe.ramBytes() < 0 || fe.ramBytes() > sectorsize)) {
            throw c.corrupt("compressed inline extent of " + Long.toUnsignedString(fe.ramBytes())
                    + " bytes, expected at most the sectorsize " + sectorsize);
        }
    }

    private byte[] inlineData(Cursor c, FileExtentItem fe, InodeId file) throws IOException {
        ByteBuffer payload = c.buffer().slice(fe.inlineOffset(), fe.inlineSize());
        if (fe.compression() == 0) {
            byte[] b = new byte[fe.inlineSize()];
            payload.get(b);
            return b;
        }
        int ram = (int) fe.ramBytes(); // checkInline: at most a sector
        byte[] plain = new byte[ram];
        Decompressor.decompressInline(compression(fe, "inline extent of inode " + file), payload, plain, ram,
                sectorsize);
        return plain;
    }

    private byte[] decompressedExtent(FileExtentItem fe, boolean verify, DataReader.Site what) throws IOException {
        long cacheKey = fe.diskBytenr();
        byte[] plain;
        synchronized (decompressed) {
            plain = decompressed.get(cacheKey);
        }
        if (plain != null && plain.length == fe.ramBytes()) return plain;
        if (Long.compareUnsigned(fe.diskNumBytes(), 128L << 20) > 0
                || Long.compareUnsigned(fe.ramBytes(), 128L << 20) > 0) {
            throw new FsException(Errno.EIO, "compressed extent of " + Long.toUnsignedString(fe.diskNumBytes()) + " -> "
                    + Long.toUnsignedString(fe.ramBytes())
                    + " bytes is larger than Btrfs allows (" + what + ")");
        }
        ByteBuffer disk = ByteBuffer.allocate((int) fe.diskNumBytes());
        data.read(fe.diskBytenr(), disk.capacity(), disk, verify, what);
        disk.flip();
        plain = new byte[(int) fe.ramBytes()];
        Decompressor.decompress(compression(fe, what), disk, plain, plain.length, sectorsize);
        synchronized (decompressed) {
            decompressed.put(cacheKey, plain);
        }
        return plain;
    }

    private static CompressionType compression(FileExtentItem fe, Object what) throws FsException {
        try {
            return CompressionType.fromCode(fe.compression());
        } catch (IllegalArgumentException e) {
            throw new FsException(Errno.EIO, "unknown compression type " + fe.compression() + " in " + what);
        }
    }

    /** The target of a symbolic link: its inline data, i_size bytes. */
    String readlink(InodeId id, InodeItem inode) throws IOException {
        ByteBuffer target = ByteBuffer.allocate((int) Math.min(inode.size(), 4096));
        readRange(id, inode, 0, target);
        return new String(target.array(), StandardCharsets.UTF_8);
    }

}
