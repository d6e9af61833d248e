package jbtrfs.tx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;

/**
 * Data checksum items in the csum tree: EXTENT_CSUM keyed by the logical start of a run of sectors, one checksum
 * per sector. Inserts runs for new extents and cuts runs out when extents are freed (splitting items that
 * straddle the range's ends).
 */
public final class CsumItems {
    private final int sectorsize;
    private final int csumSize;

    public CsumItems(int sectorsize, int csumSize) {
        this.sectorsize = sectorsize;
        this.csumSize = csumSize;
    }

    /** Inserts the checksums {@code csums} (one per sector) of the extent starting at {@code bytenr}. */
    public void insert(Transaction tx, long bytenr, byte[] csums) throws FsException {
        TreeRoot root = tx.root(ObjectIds.CSUM_TREE);
        int perItem = tx.editor().maxItemData() / csumSize / 2;
        int sectors = csums.length / csumSize;
        for (int first = 0; first < sectors; first += perItem) {
            int n = Math.min(perItem, sectors - first);
            byte[] part = Arrays.copyOfRange(csums, first * csumSize, (first + n) * csumSize);
            tx.editor().insert(root, key(bytenr + (long) first * sectorsize), part);
        }
    }

    /** Removes the checksums of [start, start + length). */
    public void delete(Transaction tx, long start, long length) throws FsException {
        long end = start + length;
        TreeRoot root = tx.root(ObjectIds.CSUM_TREE);
        BTree tree = tx.tree(ObjectIds.CSUM_TREE);
        List<long[]> hits = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        Cursor c = tree.seekFloor(key(start));
        if (!c.valid()) c = tree.seek(key(start));
        while (c.valid()) {
            Key k = c.key();
            if (k.objectid() != ObjectIds.EXTENT_CSUM || k.type() != KeyType.EXTENT_CSUM) {
                if (Long.compareUnsigned(k.objectid(), ObjectIds.EXTENT_CSUM) > 0
                        || (k.objectid() == ObjectIds.EXTENT_CSUM && k.type() > KeyType.EXTENT_CSUM)) break;
                c.next();
                continue;
            }
            long s = k.offset();
            if (Long.compareUnsigned(s, end) >= 0) break;
            long e = s + (long) (c.dataSize() / csumSize) * sectorsize;
            if (e > start) {
                byte[] d = new byte[c.dataSize()];
                c.buffer().get(c.dataOffset(), d);
                hits.add(new long[] {s, e});
                data.add(d);
            }
            c.next();
        }
        for (int i = 0; i < hits.size(); i++) {
            long s = hits.get(i)[0];
            long e = hits.get(i)[1];
            byte[] d = data.get(i);
            tx.editor().delete(root, key(s));
            if (s < start) {
                tx.editor().insert(root, key(s), Arrays.copyOfRange(d, 0, (int) ((start - s) / sectorsize) * csumSize));
            }
            if (e > end) {
                tx.editor().insert(root, key(end), Arrays.copyOfRange(d, (int) ((end - s) / sectorsize) * csumSize,
                        d.length));
            }
        }
    }

    private static Key key(long bytenr) {
        return new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, bytenr);
    }
}
