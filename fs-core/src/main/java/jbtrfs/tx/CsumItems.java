package jbtrfs.tx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeEditor;
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

    /** Checksums of the sectors from {@code start} on, one after another, as one run of items holds them. */
    public record Run(long start, byte[] csums) {
    }

    /** Inserts the checksums {@code csums} (one per sector) of the extent starting at {@code bytenr}. */
    public void insert(Transaction tx, long bytenr, byte[] csums) throws FsException {
        insert(tx.editor(), tx.root(ObjectIds.CSUM_TREE), bytenr, csums);
    }

    /** As above, into the EXTENT_CSUM items of any tree (a log tree holds them too). */
    void insert(TreeEditor editor, TreeRoot root, long bytenr, byte[] csums) throws FsException {
        int perItem = editor.maxItemData() / csumSize / 2;
        int sectors = csums.length / csumSize;
        for (int first = 0; first < sectors; first += perItem) {
            int n = Math.min(perItem, sectors - first);
            byte[] part = Arrays.copyOfRange(csums, first * csumSize, (first + n) * csumSize);
            editor.insert(root, key(bytenr + (long) first * sectorsize), part);
        }
    }

    /** Removes the checksums of [start, start + length). */
    public void delete(Transaction tx, long start, long length) throws FsException {
        TreeRoot root = tx.root(ObjectIds.CSUM_TREE);
        delete(tx.editor(), root, tx.tree(ObjectIds.CSUM_TREE), start, length);
    }

    /**
     * The checksums {@code tree} holds for [start, end), cut to that range, in runs of adjacent sectors (sectors
     * without one, nodatasum or preallocated, are gaps between runs).
     */
    public List<Run> read(BTree tree, long start, long end) throws FsException {
        List<Run> runs = new ArrayList<>();
        for (Run item : overlapping(tree, start, end)) {
            long s = item.start();
            long from = Math.max(s, start);
            long to = Math.min(s + (long) (item.csums().length / csumSize) * sectorsize, end);
            byte[] d = Arrays.copyOfRange(item.csums(), (int) ((from - s) / sectorsize) * csumSize,
                    (int) ((to - s) / sectorsize) * csumSize);
            Run last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
            if (last != null && last.start() + (long) (last.csums().length / csumSize) * sectorsize == from) {
                byte[] joined = Arrays.copyOf(last.csums(), last.csums().length + d.length);
                System.arraycopy(d, 0, joined, last.csums().length, d.length);
                runs.set(runs.size() - 1, new Run(last.start(), joined));
            } else {
                runs.add(new Run(from, d));
            }
        }
        return runs;
    }

    /** The items of {@code tree} with a checksum in [start, end), whole, in key order. */
    private List<Run> overlapping(BTree tree, long start, long end) throws FsException {
        List<Run> items = new ArrayList<>();
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
                items.add(new Run(s, d));
            }
            c.next();
        }
        return items;
    }

    /** As above, from the EXTENT_CSUM items of any tree. */
    void delete(TreeEditor editor, TreeRoot root, BTree tree, long start, long length) throws FsException {
        long end = start + length;
        for (Run item : overlapping(tree, start, end)) {
            long s = item.start();
            byte[] d = item.csums();
            long e = s + (long) (d.length / csumSize) * sectorsize;
            editor.delete(root, key(s));
            if (s < start) {
                editor.insert(root, key(s), Arrays.copyOfRange(d, 0, (int) ((start - s) / sectorsize) * csumSize));
            }
            if (e > end) {
                editor.insert(root, key(end), Arrays.copyOfRange(d, (int) ((end - s) / sectorsize) * csumSize,
                        d.length));
            }
        }
    }

    private static Key key(long bytenr) {
        return new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, bytenr);
    }
}
