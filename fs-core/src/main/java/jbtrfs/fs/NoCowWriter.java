package jbtrfs.fs;

import static jbtrfs.fs.FileOffsets.before;

import java.io.IOException;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Timespec;
import jbtrfs.tx.DataRefs;

/**
 * Writes that go where the data already is (≈ run_delalloc_nocow): into a preallocated extent, and over the data
 * of a NODATACOW file, when no one else can see the extent (≈ can_nocow_extent).
 */
final class NoCowWriter {
    private final InodeWriter w;
    private final FileExtents extents;
    private final DataSpace space;

    NoCowWriter(InodeWriter w, FileExtents extents, DataSpace space) {
        this.w = w;
        this.extents = extents;
        this.space = space;
    }

    /**
     * A write that lands inside one preallocated extent goes into that extent's own space (no copy): the range
     * becomes a regular extent between what is left preallocated, as the kernel's nocow path does. Only when no
     * one else can see the extent (its references are all this file's, and no snapshot shares the leaf); the old
     * state read zeros there, so a crash before the commit shows nothing of it. False when that does not apply.
     */
    boolean writeIntoPrealloc(InodeId file, long aStart, byte[] buf, long end, boolean growSize)
            throws FsException {
        long aEnd = aStart + buf.length;
        List<FileExtents.Extent> hits = extents.overlapping(file, aStart, aEnd);
        if (hits.size() != 1) return false;
        FileExtents.Extent x = hits.get(0);
        FileExtentItem fe = x.fe();
        if (!fe.isPrealloc() || fe.compression() != 0 || x.start() > aStart || before(x.end(), aEnd)) return false;
        DataRefs.Ref ref = new DataRefs.Ref(file.root(), file.objectid(), x.start() - fe.offset());
        if (!onlyThisFileSees(file, fe, ref)) return false;
        w.reserveMetadata(8);
        long physical = fe.diskBytenr() + fe.offset() + (aStart - x.start());
        writeBehind(file, physical, buf);
        TreeRoot root = w.root(file.root());
        long transid = w.transid();
        // the written range joins the written pieces of the same extent right before and after it, as the kernel's
        // btrfs_mark_extent_written merges them: a preallocated file written through ends in one item per extent
        FileExtents.Extent left = x.start() == aStart ? writtenPieceAt(file, aStart - 1, aStart, fe, ref) : null;
        FileExtents.Extent right = aEnd == x.end() ? writtenPieceAt(file, aEnd, aEnd, fe, ref) : null;
        w.tx().editor().delete(root, x.key());
        int items = -1;
        if (x.start() < aStart) {
            w.tx().editor().insert(root, x.key(), fe.encodeSlice(fe.offset(), aStart - x.start()));
            items++;
        }
        for (FileExtents.Extent merged : new FileExtents.Extent[] {left, right}) {
            if (merged == null) continue;
            w.tx().editor().delete(root, merged.key());
            items--;
        }
        long regStart = left != null ? left.start() : aStart;
        long regEnd = right != null ? right.end() : aEnd;
        w.extentsChanged(file, Math.min(regStart, x.start()), FileOffsets.max(regEnd, x.end()));
        w.tx().editor().insert(root, new Key(file.objectid(), KeyType.EXTENT_DATA, regStart),
                FileExtentItem.encodeRegular(transid, FileExtentItem.TYPE_REG, fe.diskBytenr(), fe.diskNumBytes(),
                        regStart - ref.offset(), regEnd - regStart, fe.ramBytes()));
        items++;
        if (before(aEnd, x.end())) {
            w.tx().editor().insert(root, new Key(file.objectid(), KeyType.EXTENT_DATA, aEnd),
                    fe.encodeSlice(fe.offset() + (aEnd - x.start()), x.end() - aEnd));
            items++;
        }
        if (items != 0) w.tx().dataRefs().change(fe.diskBytenr(), fe.diskNumBytes(), ref, items);
        InodeItem i = w.load(file);
        if ((i.flags() & InodeItem.FLAG_NODATASUM) == 0) {
            w.manager().csums().insert(w.tx(), physical, space.checksums(buf, 0, buf.length));
        }
        Timespec now = w.time();
        w.save(file, i.withSize(growSize ? Math.max(i.size(), end) : i.size()).withTimes(i.atime(), now, now));
        return true;
    }

    /**
     * The regular item of the same extent as {@code prealloc} (and the same reference {@code ref}) that holds file
     * offset {@code at} and has {@code edge} as its end or start, or null: a written piece to merge with.
     */
    private FileExtents.Extent writtenPieceAt(InodeId file, long at, long edge, FileExtentItem prealloc,
                                              DataRefs.Ref ref) throws FsException {
        if (at < 0) return null;
        List<FileExtents.Extent> hits = extents.overlapping(file, at, at + 1);
        if (hits.size() != 1) return null;
        FileExtents.Extent y = hits.get(0);
        FileExtentItem fe = y.fe();
        boolean touches = y.end() == edge || y.start() == edge;
        return touches && fe.type() == FileExtentItem.TYPE_REG && fe.compression() == 0
                && fe.diskBytenr() == prealloc.diskBytenr() && y.start() - fe.offset() == ref.offset() ? y : null;
    }

    /**
     * A NODATACOW file (chattr +C) is overwritten where its data is, as the kernel's nocow path writes it: when the
     * write lies inside one regular, uncompressed extent that no one else sees (no reflink, no snapshot since it was
     * written), the bytes go over the old ones and only the inode's size and times change. Such files keep no
     * checksums (NODATASUM comes with NODATACOW); one that has them is copied on write, as the kernel does when
     * csums exist in the range. Like the kernel's, such an overwrite is not atomic across a crash. False when this
     * does not apply.
     */
    boolean overwriteNoDataCow(InodeId file, InodeItem inode, long aStart, byte[] buf, long end, boolean growSize)
            throws FsException {
        long nocow = InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM;
        if ((inode.flags() & nocow) != nocow) return false;
        long aEnd = aStart + buf.length;
        List<FileExtents.Extent> hits = extents.overlapping(file, aStart, aEnd);
        if (hits.size() != 1) return false;
        FileExtents.Extent x = hits.get(0);
        FileExtentItem fe = x.fe();
        if (fe.type() != FileExtentItem.TYPE_REG || fe.compression() != 0 || fe.diskBytenr() == 0
                || x.start() > aStart || before(x.end(), aEnd)) {
            return false;
        }
        DataRefs.Ref ref = new DataRefs.Ref(file.root(), file.objectid(), x.start() - fe.offset());
        if (!onlyThisFileSees(file, fe, ref)) return false;
        w.reserveMetadata(2);
        writeBehind(file, fe.diskBytenr() + fe.offset() + (aStart - x.start()), buf);
        InodeItem i = w.load(file);
        Timespec now = w.time();
        w.save(file, i.withSize(growSize ? Math.max(i.size(), end) : i.size()).withTimes(i.atime(), now, now));
        return true;
    }

    private void writeBehind(InodeId file, long bytenr, byte[] buf) throws FsException {
        try {
            space.writeBehind(bytenr, buf, 0, buf.length);
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "writing data of " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Whether extent {@code fe} is referenced only through {@code ref} (this file) and no snapshot may share a
     * leaf that points at it: made in this transaction, or committed with all its references this file's and
     * written after the subvolume's last snapshot.
     */
    private boolean onlyThisFileSees(InodeId file, FileExtentItem fe, DataRefs.Ref ref) throws FsException {
        DataRefs refs = w.tx().dataRefs();
        if (refs.allocatedHere(fe.diskBytenr())) return refs.onlyRef(fe.diskBytenr(), ref);
        w.root(ObjectIds.EXTENT_TREE);
        Cursor c = w.tx().tree(ObjectIds.EXTENT_TREE).find(
                new Key(fe.diskBytenr(), KeyType.EXTENT_ITEM, fe.diskNumBytes()));
        if (c == null) return false;
        ExtentItem item = c.decode((b, off, size) -> ExtentItem.read(b, off, size, false));
        if (item.generation() <= w.lastSnapshot(file.root())) return false;
        long mine = 0;
        for (ExtentItem.InlineRef r : item.inlineRefs()) {
            if (r.type() == KeyType.EXTENT_DATA_REF && r.root() == ref.root() && r.objectid() == ref.objectid()
                    && r.fileOffset() == ref.offset()) {
                mine += r.count();
            }
        }
        DataRefs.Pending pending = refs.pending(fe.diskBytenr(), ref);
        return mine > 0 && item.refs() + pending.all() == mine + pending.ref();
    }
}
