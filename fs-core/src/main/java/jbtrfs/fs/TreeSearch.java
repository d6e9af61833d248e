package jbtrfs.fs;

import java.util.ArrayList;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.Key;
import jbtrfs.format.ObjectIds;

/**
 * BTRFS_IOC_TREE_SEARCH's walk (search_ioctl): the items of one tree between two keys, in key order, from leaves
 * at least as new as the asked generation, until the item count or the byte budget runs out.
 */
final class TreeSearch {
    private final Subvolumes subvolumes;

    TreeSearch(Subvolumes subvolumes) {
        this.subvolumes = subvolumes;
    }

    /** See {@link FsOperations#treeSearch}. */
    List<TreeSearchItem> search(long treeId, Key min, Key max, long minTransid, long maxTransid, int maxItems,
                                int maxBytes) throws FsException {
        List<TreeSearchItem> out = new ArrayList<>();
        if (min.compareTo(max) > 0 || maxItems <= 0) return out;
        BTree tree = treeId == ObjectIds.ROOT_TREE ? subvolumes.liveRootTree() : subvolumes.tree(treeId);
        int bytes = 0;
        for (Cursor c = tree.seek(min); c.valid() && c.key().compareTo(max) <= 0; c.next()) {
            long transid = c.leaf().generation();
            // btrfs_search_forward skips blocks older than min_transid, copy_to_sk leaves newer than max_transid
            if (Long.compareUnsigned(transid, minTransid) < 0 || Long.compareUnsigned(transid, maxTransid) > 0) {
                continue;
            }
            int size = TreeSearchItem.HEADER_SIZE + c.dataSize();
            if (bytes + size > maxBytes) break;
            byte[] data = new byte[c.dataSize()];
            c.buffer().get(c.dataOffset(), data);
            out.add(new TreeSearchItem(transid, c.key(), data));
            bytes += size;
            if (out.size() >= maxItems) break;
        }
        return out;
    }
}
