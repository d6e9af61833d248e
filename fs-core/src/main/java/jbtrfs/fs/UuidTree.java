package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import jbtrfs.FsException;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.Uuids;
import jbtrfs.tx.Transaction;

/**
 * The uuid tree's entries (≈ uuid-tree.c): a subvolume's uuid (UUID_KEY_SUBVOL) or received uuid
 * (UUID_KEY_RECEIVED_SUBVOL) keyed by its two halves read as little-endian numbers, each item a list of the
 * subvolume ids that carry it. Send and receive find subvolumes by them.
 */
final class UuidTree {
    private UuidTree() {
    }

    /** The key of {@code uuid} with {@code type}: objectid the first eight bytes, offset the last eight. */
    static Key key(byte[] uuid, int type) {
        ByteBuffer b = ByteBuffer.wrap(uuid).order(ByteOrder.LITTLE_ENDIAN);
        return new Key(b.getLong(0), type, b.getLong(8));
    }

    static boolean isEmpty(byte[] uuid) {
        return Arrays.equals(uuid, new byte[Uuids.SIZE]);
    }

    /** Adds {@code subvol} under {@code uuid} (≈ btrfs_uuid_tree_add), making the tree first when the image has none. */
    static void add(Transaction tx, int nodesize, byte[] uuid, int type, long subvol) throws FsException {
        TreeRoot root = root(tx, nodesize);
        Key key = key(uuid, type);
        Cursor c = tx.tree(ObjectIds.UUID_TREE).find(key);
        long[] ids = c == null ? new long[0] : ids(c);
        for (long id : ids) if (id == subvol) return;
        long[] more = Arrays.copyOf(ids, ids.length + 1);
        more[ids.length] = subvol;
        tx.editor().put(root, key, encode(more));
    }

    /** Removes {@code subvol} from under {@code uuid} (≈ btrfs_uuid_tree_remove); nothing when it is not there. */
    static void remove(Transaction tx, byte[] uuid, int type, long subvol) throws FsException {
        if (isEmpty(uuid) || !exists(tx)) return;
        TreeRoot root = tx.root(ObjectIds.UUID_TREE);
        Key key = key(uuid, type);
        Cursor c = tx.tree(ObjectIds.UUID_TREE).find(key);
        if (c == null) return;
        long[] ids = ids(c);
        long[] rest = Arrays.stream(ids).filter(id -> id != subvol).toArray();
        if (rest.length == ids.length) return;
        if (rest.length == 0) tx.editor().delete(root, key);
        else tx.editor().put(root, key, encode(rest));
    }

    private static boolean exists(Transaction tx) throws FsException {
        tx.root(ObjectIds.ROOT_TREE);
        Cursor c = tx.tree(ObjectIds.ROOT_TREE).seekFloor(Key.last(ObjectIds.UUID_TREE, KeyType.ROOT_ITEM));
        return c.valid() && c.key().objectid() == ObjectIds.UUID_TREE && c.key().type() == KeyType.ROOT_ITEM;
    }

    private static TreeRoot root(Transaction tx, int nodesize) throws FsException {
        if (exists(tx)) return tx.root(ObjectIds.UUID_TREE);
        // an image from before the uuid tree (the kernel makes one at mount): ours now
        TreeRoot made = tx.createTree(ObjectIds.UUID_TREE);
        tx.editor().insert(tx.root(ObjectIds.ROOT_TREE), new Key(ObjectIds.UUID_TREE, KeyType.ROOT_ITEM, 0),
                RootItem.encodeNewTree(made.bytenr(), tx.transid(), nodesize));
        return made;
    }

    private static long[] ids(Cursor c) throws FsException {
        return c.decode((b, off, size) -> {
            long[] out = new long[size / 8];
            for (int i = 0; i < out.length; i++) out[i] = b.getLong(off + 8 * i);
            return out;
        });
    }

    private static byte[] encode(long[] ids) {
        ByteBuffer b = ByteBuffer.allocate(8 * ids.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long id : ids) b.putLong(id);
        return b.array();
    }
}
