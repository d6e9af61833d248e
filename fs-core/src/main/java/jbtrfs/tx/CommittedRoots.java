package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.Header;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.SuperBlock;

/**
 * The last commit's superblock and the tree roots it names (≈ the commit roots of btrfs_fs_info): what readers and
 * the next transaction start from. {@link TransactionManager} swaps it when a commit's superblock is on the device.
 */
final class CommittedRoots {
    private final TreeBlockReader reader;
    private ByteBuffer superBlock;

    CommittedRoots(TreeBlockReader reader, SuperBlock sb) {
        this.reader = reader;
        this.superBlock = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        this.superBlock.put(0, sb.raw().duplicate().clear(), 0, SuperBlock.SIZE);
    }

    /** A copy of the committed superblock, for the next one to be made from. */
    ByteBuffer copyOfSuperBlock() {
        ByteBuffer sb = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        sb.put(0, superBlock, 0, SuperBlock.SIZE);
        return sb;
    }

    long generation() { return superBlock.getLong(SuperBlock.OFFSET_GENERATION); }

    SuperBlock decoded() { return SuperBlock.decode(superBlock); }

    /** The commit's superblock is on the device: it and the tree blocks it points at become the committed ones. */
    void switchTo(Transaction tx, ByteBuffer written) {
        superBlock = written;
        for (Map.Entry<Long, ByteBuffer> e : tx.dirtyBlocks().entrySet()) {
            reader.cache(new TreeBlock(e.getKey(), e.getValue().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN)));
        }
    }

    /** The tree {@code id} as of the last commit. */
    BTree tree(long id) throws FsException {
        TreeRoot r = root(id);
        return new BTree(reader, id, r.bytenr(), r.level(), r.generation());
    }

    /** The committed root item's last_snapshot of tree {@code id} (0 when it has none or cannot be read). */
    long lastSnapshot(long id) {
        try {
            RootItem item = rootItem(id);
            return item == null ? 0 : item.lastSnapshot();
        } catch (FsException e) {
            // unreadable root item: assume shared, the safe side
            return Long.MAX_VALUE;
        }
    }

    private RootItem rootItem(long id) throws FsException {
        Cursor c = tree(ObjectIds.ROOT_TREE).seekFloor(Key.last(id, KeyType.ROOT_ITEM));
        if (!c.valid() || c.key().objectid() != id || c.key().type() != KeyType.ROOT_ITEM) return null;
        try {
            return RootItem.read(c.buffer(), c.dataOffset(), c.dataSize());
        } catch (IllegalArgumentException e) {
            throw new CorruptBlockException(ObjectIds.ROOT_TREE, c.leaf().bytenr(), c.slot(), e.getMessage());
        }
    }

    TreeRoot root(long id) throws FsException {
        if (id == ObjectIds.ROOT_TREE) {
            return new TreeRoot(id, superBlock.getLong(SuperBlock.OFFSET_ROOT),
                    Byte.toUnsignedInt(superBlock.get(SuperBlock.OFFSET_ROOT_LEVEL)), generation());
        }
        if (id == ObjectIds.CHUNK_TREE) {
            return new TreeRoot(id, superBlock.getLong(SuperBlock.OFFSET_CHUNK_ROOT),
                    Byte.toUnsignedInt(superBlock.get(SuperBlock.OFFSET_CHUNK_ROOT_LEVEL)),
                    superBlock.getLong(SuperBlock.OFFSET_CHUNK_ROOT_GENERATION));
        }
        RootItem item = rootItem(id);
        if (item == null) throw new FsException(Errno.ENOENT, "no tree " + id + " in the root tree");
        return new TreeRoot(id, item.bytenr(), item.level(), item.generation());
    }

    byte[] fsidOfBlocks() {
        return SuperBlock.decode(superBlock).treeBlockFsid();
    }

    byte[] chunkTreeUuid() throws FsException {
        // every tree block carries the chunk tree's uuid: copy it from the chunk root's header
        TreeBlock b = reader.read(superBlock.getLong(SuperBlock.OFFSET_CHUNK_ROOT), 0, -1, ObjectIds.CHUNK_TREE);
        byte[] u = new byte[16];
        b.buffer().get(Header.OFFSET_CHUNK_TREE_UUID, u);
        return u;
    }
}
