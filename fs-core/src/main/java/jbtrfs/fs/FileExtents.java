package jbtrfs.fs;

import static jbtrfs.fs.FileOffsets.before;

import java.util.ArrayList;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.tx.DataRefs;

/**
 * A file's file extent items: finding the ones over a range, cutting a range out of them (≈ btrfs_drop_extents),
 * inserting a new extent's item with its reference (≈ insert_reserved_file_extent) and explicit hole items. Every
 * edit keeps the extents' back references in step through the transaction's {@link DataRefs}.
 */
final class FileExtents {
    /** A file extent item and the file range it covers; {@code end} is unsigned (the last extent may end at 2^63). */
    record Extent(Key key, FileExtentItem fe, long start, long end) {
    }

    /**
     * A new extent of a write: {@code numBytes} of the file stored as {@code disk[diskOffset, +diskBytes)} at
     * {@code bytenr}, compressed or not.
     */
    record NewExtent(long bytenr, long diskBytes, long numBytes, CompressionType compression, byte[] disk,
                     int diskOffset) {
    }

    private final InodeWriter w;

    FileExtents(InodeWriter w) {
        this.w = w;
    }

    /** The file extent items that overlap [from, to). */
    List<Extent> overlapping(InodeId file, long from, long to) throws FsException {
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

    boolean hasInline(InodeId file) throws FsException {
        for (Extent e : overlapping(file, 0, 1)) if (e.fe.isInline()) return true;
        return false;
    }

    /** Whether an extent other than a hole holds file offset {@code at}. */
    boolean hasDataAt(InodeId file, long at) throws FsException {
        for (Extent e : overlapping(file, at, at + 1)) if (!e.fe.isHole()) return true;
        return false;
    }

    /**
     * Cuts [from, to) out of the file's extents: items inside go, items across an end keep their outside part
     * (same extent, adjusted offset), back references follow. Returns the bytes the inode no longer holds.
     */
    long drop(InodeId file, long from, long to) throws FsException {
        TreeRoot root = w.root(file.root());
        long removed = 0;
        DataRefs refs = w.tx().dataRefs();
        w.extentsChanged(file, from, to);
        for (Extent x : overlapping(file, from, to)) {
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

    /**
     * Gives back at once an extent this transaction made whose last reference it dropped (its space would
     * otherwise stay taken until the commit), with its checksums.
     */
    void releaseUnreferenced(FileExtentItem fe) throws FsException {
        DataRefs refs = w.tx().dataRefs();
        if (!refs.unreferencedNew(fe.diskBytenr())) return;
        refs.forget(fe.diskBytenr());
        w.manager().csums().delete(w.tx(), fe.diskBytenr(), fe.diskNumBytes());
        // a log may name the extent: then its space must not hold other data before the commit drops the log
        if (w.manager().logging()) w.manager().blockGroups().pin(fe.diskBytenr(), fe.diskNumBytes());
        else w.manager().blockGroups().release(fe.diskBytenr(), fe.diskNumBytes());
    }

    /** A preallocated extent's item over {@code space}, at {@code fileOffset}, with its one reference. */
    void insertPrealloc(InodeId file, long fileOffset, DataSpace.DiskExtent space, long transid) throws FsException {
        insert(file, fileOffset, FileExtentItem.TYPE_PREALLOC, space.bytenr(), space.numBytes(), space.numBytes(),
                CompressionType.NONE, transid);
    }

    /** A write's new extent's item at {@code fileOffset}, with its one reference. */
    void insert(InodeId file, long fileOffset, NewExtent x, long transid) throws FsException {
        insert(file, fileOffset, FileExtentItem.TYPE_REG, x.bytenr, x.diskBytes, x.numBytes, x.compression, transid);
    }

    /** A new extent's file extent item and its one reference; ram_bytes is the file bytes it holds. */
    private void insert(InodeId file, long fileOffset, int type, long bytenr, long diskBytes, long numBytes,
                        CompressionType compression, long transid) throws FsException {
        w.tx().editor().insert(w.root(file.root()), new Key(file.objectid(), KeyType.EXTENT_DATA, fileOffset),
                FileExtentItem.encode(transid, type, compression.code(), bytenr, diskBytes, 0, numBytes, numBytes));
        w.extentsChanged(file, fileOffset, fileOffset + numBytes);
        DataRefs refs = w.tx().dataRefs();
        refs.created(bytenr, diskBytes);
        refs.change(bytenr, diskBytes, new DataRefs.Ref(file.root(), file.objectid(), fileOffset), 1);
    }

    /**
     * Explicit hole items for the parts of [from, to) no extent covers (images without NO_HOLES need every byte
     * below i_size covered; preallocated extents past EOF may already sit there).
     */
    void fillHole(InodeId file, long from, long to) throws FsException {
        if (!before(from, to)) return;
        long at = from;
        for (Extent x : overlapping(file, from, to)) {
            if (before(at, x.start)) putHole(file, at, x.start);
            at = FileOffsets.max(at, x.end);
        }
        if (before(at, to)) putHole(file, at, to);
    }

    private void putHole(InodeId file, long from, long to) throws FsException {
        w.extentsChanged(file, from, to);
        w.tx().editor().put(w.root(file.root()), new Key(file.objectid(), KeyType.EXTENT_DATA, from),
                FileExtentItem.encodeRegular(w.transid(), FileExtentItem.TYPE_REG, 0, 0, 0, to - from, to - from));
    }
}
