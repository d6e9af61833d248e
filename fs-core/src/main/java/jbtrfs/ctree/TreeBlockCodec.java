package jbtrfs.ctree;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.ctree.TreeEditor.LeafItem;
import jbtrfs.ctree.TreeEditor.NodePtr;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.KeyPtr;

/**
 * A tree block as {@link TreeEditor} edits it: decoded to a list of items or key pointers, and encoded again as a
 * new block of this transaction (header, then item headers and data, or key pointers).
 */
final class TreeBlockCodec {
    private final int nodesize;
    private final long transid;
    private final byte[] fsid;
    private final byte[] chunkTreeUuid;

    TreeBlockCodec(int nodesize, long transid, byte[] fsid, byte[] chunkTreeUuid) {
        this.nodesize = nodesize;
        this.transid = transid;
        this.fsid = fsid.clone();
        this.chunkTreeUuid = chunkTreeUuid.clone();
    }

    /** Bytes a leaf has for item headers and data. */
    private int leafCapacity() { return nodesize - Header.SIZE; }

    static List<LeafItem> decodeLeaf(TreeBlock b) {
        List<LeafItem> items = new ArrayList<>(b.nritems() + 1);
        for (int i = 0; i < b.nritems(); i++) {
            byte[] data = new byte[b.itemSize(i)];
            b.buffer().get(b.itemOffset(i), data);
            items.add(new LeafItem(b.key(i), data));
        }
        return items;
    }

    static List<NodePtr> decodeNode(TreeBlock b) {
        List<NodePtr> ptrs = new ArrayList<>(b.nritems() + 1);
        for (int i = 0; i < b.nritems(); i++) ptrs.add(new NodePtr(b.key(i), b.blockptr(i), b.ptrGeneration(i)));
        return ptrs;
    }

    private ByteBuffer header(long bytenr, long owner, int level, int nritems) {
        ByteBuffer b = ByteBuffer.allocate(nodesize).order(ByteOrder.LITTLE_ENDIAN);
        b.put(Header.OFFSET_FSID, fsid);
        b.putLong(Header.OFFSET_BYTENR, bytenr);
        b.putLong(Header.OFFSET_FLAGS, TreeEditor.NEW_BLOCK_FLAGS);
        b.put(Header.OFFSET_CHUNK_TREE_UUID, chunkTreeUuid);
        b.putLong(Header.OFFSET_GENERATION, transid);
        b.putLong(Header.OFFSET_OWNER, owner);
        b.putInt(Header.OFFSET_NRITEMS, nritems);
        b.put(Header.OFFSET_LEVEL, (byte) level);
        return b;
    }

    /** A leaf: item headers from the front, their data packed from the end, in key order. */
    ByteBuffer encodeLeaf(long bytenr, long owner, List<LeafItem> items) {
        ByteBuffer b = header(bytenr, owner, 0, items.size());
        int dataEnd = leafCapacity();
        for (int i = 0; i < items.size(); i++) {
            LeafItem it = items.get(i);
            int off = Header.SIZE + i * Item.SIZE;
            dataEnd -= it.data().length;
            it.key().write(b, off + Item.OFFSET_KEY);
            b.putInt(off + Item.OFFSET_DATA_OFFSET, dataEnd);
            b.putInt(off + Item.OFFSET_DATA_SIZE, it.data().length);
            b.put(Header.SIZE + dataEnd, it.data());
        }
        return b;
    }

    ByteBuffer encodeNode(long bytenr, long owner, int level, List<NodePtr> ptrs) {
        ByteBuffer b = header(bytenr, owner, level, ptrs.size());
        for (int i = 0; i < ptrs.size(); i++) {
            int off = Header.SIZE + i * KeyPtr.SIZE;
            ptrs.get(i).key().write(b, off + KeyPtr.OFFSET_KEY);
            b.putLong(off + KeyPtr.OFFSET_BLOCKPTR, ptrs.get(i).blockptr());
            b.putLong(off + KeyPtr.OFFSET_GENERATION, ptrs.get(i).generation());
        }
        return b;
    }
}
