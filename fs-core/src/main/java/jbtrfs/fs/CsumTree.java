package jbtrfs.fs;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;

/**
 * Data checksums: EXTENT_CSUM items keyed (EXTENT_CSUM, EXTENT_CSUM, logical start) in the csum tree, each an
 * array of one checksum per sector from that start.
 */
final class CsumTree {
    private final Source source;
    private final int sectorsize;
    private final int csumSize;

    /** Where the csum tree comes from at each lookup (a read-write mount changes it); null when there is none. */
    interface Source {
        BTree tree() throws FsException;
    }

    CsumTree(Source source, int sectorsize, int csumSize) {
        this.source = source;
        this.sectorsize = sectorsize;
        this.csumSize = csumSize;
    }

    int csumSize() { return csumSize; }

    /**
     * Fills {@code out} with the checksums of the {@code sectors} sectors from {@code logical} (sector-aligned),
     * {@code csumSize} bytes each; {@code present[i]} says whether sector i has one.
     */
    void lookup(long logical, int sectors, byte[] out, boolean[] present) throws FsException {
        BTree tree = source.tree();
        if (tree == null) return;
        long end = logical + (long) sectors * sectorsize;
        Cursor c = tree.seekFloor(new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, logical));
        if (!c.valid()) c = tree.seek(new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, logical));
        while (c.valid()) {
            Key k = c.key();
            if (k.objectid() != ObjectIds.EXTENT_CSUM || k.type() != KeyType.EXTENT_CSUM) {
                if (Long.compareUnsigned(k.objectid(), ObjectIds.EXTENT_CSUM) < 0) {
                    c.next();
                    continue;
                }
                break;
            }
            long itemStart = k.offset();
            if (Long.compareUnsigned(itemStart, end) >= 0) break;
            int count = c.dataSize() / csumSize;
            long itemEnd = itemStart + (long) count * sectorsize;
            long from = Math.max(itemStart, logical);
            long to = Math.min(itemEnd, end);
            for (long a = from; a < to; a += sectorsize) {
                int src = (int) ((a - itemStart) / sectorsize);
                int dst = (int) ((a - logical) / sectorsize);
                c.buffer().get(c.dataOffset() + src * csumSize, out, dst * csumSize, csumSize);
                present[dst] = true;
            }
            c.next();
        }
    }
}
