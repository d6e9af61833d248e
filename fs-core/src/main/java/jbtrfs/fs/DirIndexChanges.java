package jbtrfs.fs;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.tx.TreeLog;

/**
 * How a directory's DIR_INDEX items differ between the last commit and the running transaction, read from the
 * leaves this transaction changed only (≈ log_dir_items with btrfs_search_forward(min_trans)): a subtree the
 * running tree still shares with the last commit holds the same items in both and is read in neither, so a
 * directory of 20,000 names where one changed costs a few leaves, not the directory.
 */
final class DirIndexChanges {
    /** The running tree's items that the last commit lacks or holds otherwise, in key order. */
    final List<TreeLog.LogItem> gained = new ArrayList<>();
    /** The last commit's items that are gone or changed, in key order. */
    final List<TreeLog.LogItem> lost = new ArrayList<>();

    private DirIndexChanges() {
    }

    /** The changes of directory {@code dir}'s indexes in {@code live}, a tree of transaction {@code transid}. */
    static DirIndexChanges of(BTree live, BTree committed, long transid, long dir) throws FsException {
        Key from = new Key(dir, KeyType.DIR_INDEX, 0);
        Key to = Key.last(dir, KeyType.DIR_INDEX);
        Set<Long> shared = new HashSet<>();
        Map<Key, byte[]> now = items(live, from, to, (bytenr, generation) -> {
            // a block older than the transaction is the last commit's, whose tree holds the same subtree
            if (generation >= transid) return true;
            shared.add(bytenr);
            return false;
        });
        Map<Key, byte[]> before = items(committed, from, to, (bytenr, generation) -> !shared.contains(bytenr));
        DirIndexChanges c = new DirIndexChanges();
        // an item of a changed leaf that the last commit holds is in a leaf of it that is not shared
        now.forEach((k, v) -> {
            if (!Arrays.equals(v, before.get(k))) c.gained.add(new TreeLog.LogItem(k, v));
        });
        before.forEach((k, v) -> {
            if (!Arrays.equals(v, now.get(k))) c.lost.add(new TreeLog.LogItem(k, v));
        });
        return c;
    }

    private static Map<Key, byte[]> items(BTree tree, Key from, Key to, BTree.Descent descent) throws FsException {
        Map<Key, byte[]> out = new TreeMap<>();
        tree.scanEntered(from, to, descent, (key, leaf, off, size) -> {
            byte[] d = new byte[size];
            leaf.get(off, d);
            out.put(key, d);
            return true;
        });
        return out;
    }
}
