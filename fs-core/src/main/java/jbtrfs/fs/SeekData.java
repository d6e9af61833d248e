package jbtrfs.fs;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;

/**
 * lseek(2)'s SEEK_DATA and SEEK_HOLE from the file extent items, as the kernel's find_desired_extent answers them:
 * holes are gaps between items (NO_HOLES), items with disk_bytenr 0 and prealloc extents; inline and regular
 * extents (compressed or not) are data; past the last item up to i_size is a hole. We have no delalloc, so the
 * kernel's search of it in every hole finds nothing here.
 */
final class SeekData {
    private final Subvolumes subvolumes;
    private final Inodes inodes;
    private final int sectorsize;

    SeekData(Subvolumes subvolumes, Inodes inodes, int sectorsize) {
        this.subvolumes = subvolumes;
        this.inodes = inodes;
        this.sectorsize = sectorsize;
    }

    /** The offset of the first data ({@code hole} false) or hole ({@code hole} true) at or after {@code offset}. */
    long find(InodeId file, long offset, boolean hole) throws FsException {
        InodeItem inode = inodes.item(file);
        if ((inode.mode() & Stat.S_IFMT) != Stat.S_IFREG) {
            throw new FsException(Errno.EINVAL, "SEEK_DATA/SEEK_HOLE on inode " + file + ", not a regular file");
        }
        long size = inode.size();
        if (size == 0 || offset >= size) throw pastEnd(file, offset, size);
        // the kernel's quick path: no prealloc and every byte of i_size stored means no hole before EOF
        if (hole && (inode.flags() & InodeItem.FLAG_PREALLOC) == 0 && inode.nbytes() == size) return size;
        long start = Math.max(0, offset);
        long lastExtentEnd = start / sectorsize * sectorsize;
        boolean found = false;
        BTree tree = subvolumes.tree(file.root());
        long ino = file.objectid();
        Cursor c = tree.seekFloor(new Key(ino, KeyType.EXTENT_DATA, start));
        if (!c.valid() || c.key().objectid() != ino || c.key().type() != KeyType.EXTENT_DATA) {
            c = tree.seek(new Key(ino, KeyType.EXTENT_DATA, start));
        }
        for (; start < size && c.valid(); c.next()) {
            Key k = c.key();
            if (k.objectid() != ino || k.type() != KeyType.EXTENT_DATA) break;
            FileExtentItem fe = c.decode(FileExtentItem::read);
            long extentEnd = extentEnd(k.offset(), fe);
            if (Long.compareUnsigned(extentEnd, start) <= 0) continue;
            boolean first = start == offset;
            if (lastExtentEnd < k.offset() && hole) {
                // an implicit hole before this item
                start = first ? offset : lastExtentEnd;
                found = true;
                break;
            }
            if (fe.isPrealloc() || fe.isHole()) {
                if (hole) {
                    start = first ? offset : k.offset();
                    found = true;
                    break;
                }
            } else if (!hole) {
                start = Math.max(k.offset(), offset);
                found = true;
                break;
            }
            start = extentEnd;
            lastExtentEnd = extentEnd;
        }
        // past the last item up to i_size is an implicit hole: SEEK_HOLE stops at start, SEEK_DATA finds none
        if (!found && start < size && !hole) start = size;
        if (!hole && Long.compareUnsigned(start, size) >= 0) throw pastEnd(file, offset, size);
        return Long.compareUnsigned(start, size) < 0 ? start : size;
    }

    /** Where the item's file range ends (btrfs_file_extent_end): an inline extent's rounded up to a sector. */
    private long extentEnd(long keyOffset, FileExtentItem fe) {
        if (fe.isInline()) return (keyOffset + fe.ramBytes() + sectorsize - 1) / sectorsize * sectorsize;
        return keyOffset + fe.numBytes();
    }

    private static FsException pastEnd(InodeId file, long offset, long size) {
        return new FsException(Errno.ENXIO, "no data at or after " + offset + " in inode " + file + " of size " + size);
    }
}
