package jbtrfs.ctree;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.CorruptBlockException;
import jbtrfs.format.Key;

/**
 * Random inserts and deletes against a TreeMap model, at every node size: after each round the tree holds exactly
 * the model's items, every block passes the tree checker, parent keys equal their children's first keys, no
 * block but the root is empty, and the store's live blocks are exactly the reachable ones.
 */
class TreeEditorTest {
    private static final byte[] FSID = new byte[16];
    private static final byte[] CHUNK_UUID = new byte[16];

    /** Blocks in memory; tracks what is live so leaks and double frees show. */
    static final class MemoryStore implements TreeBlockStore {
        final int nodesize;
        final Map<Long, ByteBuffer> blocks = new HashMap<>();
        final Set<Long> dirty = new HashSet<>();
        long next = 1 << 20;

        MemoryStore(int nodesize) {
            this.nodesize = nodesize;
        }

        @Override
        public TreeBlock read(long bytenr, long gen, int level, long owner) throws CorruptBlockException {
            ByteBuffer b = blocks.get(bytenr);
            if (b == null) throw new CorruptBlockException(owner, bytenr, -1, "no such block");
            String problem = TreeChecker.check(b, bytenr, FSID, nodesize, gen, level);
            if (problem != null) throw new CorruptBlockException(owner, bytenr, -1, problem);
            return new TreeBlock(bytenr, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
        }

        @Override
        public ByteBuffer dirty(long bytenr) {
            return dirty.contains(bytenr) ? blocks.get(bytenr) : null;
        }

        @Override
        public long allocate(long owner, int level) {
            long b = next;
            next += nodesize;
            return b;
        }

        @Override
        public void putDirty(long bytenr, ByteBuffer block) {
            blocks.put(bytenr, block);
            dirty.add(bytenr);
        }

        @Override
        public void free(long bytenr, long owner, int level) {
            if (blocks.remove(bytenr) == null && bytenr < next) {
                // freeing a block that was allocated but never written is fine; freeing one twice is not
                assertTrue(!freed.contains(bytenr), "block " + bytenr + " freed twice");
            }
            freed.add(bytenr);
            dirty.remove(bytenr);
        }

        final Set<Long> freed = new HashSet<>();

        /** Ends the transaction: every block becomes committed (read-only for the next one). */
        void commit() {
            dirty.clear();
        }
    }

    @ParameterizedTest(name = "nodesize {0}")
    @ValueSource(ints = {4096, 16384, 65536})
    void randomInsertsAndDeletes_matchAModel(int nodesize) throws Exception {
        MemoryStore store = new MemoryStore(nodesize);
        Random r = new Random(nodesize);
        TreeMap<Key, byte[]> model = new TreeMap<>();
        TreeEditor editor = new TreeEditor(store, nodesize, 1, FSID, CHUNK_UUID);
        TreeRoot root = editor.createTree(5);
        int maxLevel = 0;
        for (int round = 0; round < 12; round++) {
            editor = new TreeEditor(store, nodesize, round + 2L, FSID, CHUNK_UUID);
            int ops = 1000 + r.nextInt(1000);
            for (int i = 0; i < ops; i++) {
                // a growing phase, then a shrinking phase, so splits and merges both happen at every level
                boolean grow = round < 6 ? r.nextInt(10) < 8 : r.nextInt(10) < 3;
                if (grow || model.isEmpty()) {
                    Key k = new Key(r.nextInt(5000), 1 + r.nextInt(3), r.nextInt(1 << 20));
                    byte[] data = new byte[r.nextInt(10) == 0 ? r.nextInt(nodesize / 4) : r.nextInt(200)];
                    r.nextBytes(data);
                    if (model.containsKey(k)) {
                        Key dup = k;
                        TreeEditor e = editor;
                        CorruptBlockException ex = assertThrows(CorruptBlockException.class,
                                () -> e.insert(root, dup, data));
                        assertEquals(5, ex.root());
                        assertTrue(ex.slot() >= 0 && ex.getMessage().contains("already exists"), ex.getMessage());
                    } else {
                        editor.insert(root, k, data);
                        model.put(k, data);
                    }
                } else {
                    Key k = r.nextInt(5) == 0 ? new Key(r.nextInt(5000), 2, 7)
                            : model.keySet().stream().skip(r.nextInt(model.size())).findFirst().orElseThrow();
                    assertEquals(model.remove(k) != null, editor.delete(root, k), "delete " + k);
                }
            }
            store.commit();
            verify(store, root, model, nodesize);
            maxLevel = Math.max(maxLevel, root.level());
        }
        System.out.println("nodesize " + nodesize + ": tree reached level " + maxLevel);
        assertTrue(maxLevel >= (nodesize == 4096 ? 2 : 1), "the workload splits nodes, not only leaves");
        while (!model.isEmpty()) {
            assertTrue(editor.delete(root, model.pollFirstEntry().getKey()));
        }
        verify(store, root, model, nodesize);
        assertEquals(0, root.level(), "an emptied tree is one empty leaf");
    }

    private static void verify(MemoryStore store, TreeRoot root, TreeMap<Key, byte[]> model, int nodesize)
            throws Exception {
        BTree tree = new BTree(store, root.owner(), root.bytenr(), root.level(), root.generation());
        Cursor c = tree.seek(new Key(0, 0, 0));
        for (Map.Entry<Key, byte[]> e : model.entrySet()) {
            assertTrue(c.valid(), "tree ends before " + e.getKey());
            assertEquals(e.getKey(), c.key());
            byte[] got = new byte[c.dataSize()];
            c.buffer().get(c.dataOffset(), got);
            assertArrayEquals(e.getValue(), got, "data of " + e.getKey());
            c.next();
        }
        assertTrue(!c.valid(), "tree holds more than the model");
        Set<Long> reachable = new HashSet<>();
        walk(store, root.bytenr(), root.generation(), root.level(), null, null, true, reachable, nodesize);
        assertEquals(reachable, store.blocks.keySet(), "live blocks are exactly the reachable ones");
    }

    private static void walk(MemoryStore store, long bytenr, long gen, int level, Key low, Key high, boolean isRoot,
                             Set<Long> reachable, int nodesize) throws Exception {
        TreeBlock b = store.read(bytenr, gen, level, 5);
        reachable.add(bytenr);
        if (!isRoot) assertTrue(b.nritems() > 0, "non-root block " + bytenr + " is empty");
        if (b.nritems() > 0) {
            if (low != null) assertEquals(low, b.key(0), "parent key equals the child's first key");
            if (high != null) assertTrue(b.key(b.nritems() - 1).compareTo(high) < 0, "child keys below the next");
        }
        if (level == 0) return;
        for (int i = 0; i < b.nritems(); i++) {
            Key next = i + 1 < b.nritems() ? b.key(i + 1) : high;
            walk(store, b.blockptr(i), b.ptrGeneration(i), level - 1, b.key(i), next, false, reachable, nodesize);
        }
    }

    @ParameterizedTest(name = "nodesize {0}")
    @ValueSource(ints = {4096, 65536})
    void cow_movesCommittedBlocksAndReusesDirtyOnes(int nodesize) throws Exception {
        MemoryStore store = new MemoryStore(nodesize);
        TreeEditor editor = new TreeEditor(store, nodesize, 1, FSID, CHUNK_UUID);
        TreeRoot root = editor.createTree(7);
        editor.insert(root, new Key(1, 1, 0), new byte[] {1});
        long first = root.bytenr();
        editor.insert(root, new Key(2, 1, 0), new byte[] {2});
        assertEquals(first, root.bytenr(), "a block dirtied in this transaction is changed in place");
        store.commit();
        TreeEditor next = new TreeEditor(store, nodesize, 2, FSID, CHUNK_UUID);
        next.insert(root, new Key(3, 1, 0), new byte[] {3});
        assertTrue(root.bytenr() != first, "a committed block is copied to a new address");
        assertEquals(2, root.generation());
        assertTrue(store.freed.contains(first), "the old copy is freed");
        assertNull(store.blocks.get(first));
        TreeBlock b = store.read(root.bytenr(), 2, 0, 7);
        assertEquals(3, b.nritems());
        assertEquals(TreeEditor.NEW_BLOCK_FLAGS, b.flags());
        assertEquals(7, b.owner());
        List<TreeEditor.LeafItem> items = TreeBlockCodec.decodeLeaf(b);
        assertArrayEquals(new byte[] {3}, items.get(2).data());
    }

    /**
     * An insert of a key the leaf already holds (a damaged tree, as on fsck-tests images) is a corruption error
     * naming the tree, the leaf and the slot, both in a leaf this transaction owns (changed in place) and in a
     * committed one (copied first).
     */
    @Test
    void insertOfAnExistingKey_isACorruptionErrorNamingLeafAndSlot() throws Exception {
        MemoryStore store = new MemoryStore(4096);
        TreeEditor editor = new TreeEditor(store, 4096, 1, FSID, CHUNK_UUID);
        TreeRoot root = threeItems(editor);
        TreeEditor dirtyLeaf = editor;
        CorruptBlockException inPlace = assertThrows(CorruptBlockException.class,
                () -> dirtyLeaf.insert(root, new Key(-10, 128, 4096), new byte[] {9}));
        assertEquals(7, inPlace.root());
        assertEquals(root.bytenr(), inPlace.bytenr());
        assertEquals(1, inPlace.slot());
        store.commit();
        TreeEditor next = new TreeEditor(store, 4096, 2, FSID, CHUNK_UUID);
        CorruptBlockException copied = assertThrows(CorruptBlockException.class,
                () -> next.insert(root, new Key(-10, 128, 8192), new byte[] {9, 9}));
        assertEquals(2, copied.slot());
        assertTrue(copied.getMessage().contains("EXTENT_CSUM 8192) already exists"), copied.getMessage());
    }

    /**
     * A delete of a key the caller found (no search first) where the key is missing after all, a damaged tree, is a
     * corruption error naming the leaf; the keys that are there go as with a searching delete.
     */
    @Test
    void deletePresentOfAMissingKey_isACorruptionError() throws Exception {
        MemoryStore store = new MemoryStore(4096);
        TreeEditor editor = new TreeEditor(store, 4096, 1, FSID, CHUNK_UUID);
        TreeRoot root = threeItems(editor);
        CorruptBlockException e = assertThrows(CorruptBlockException.class,
                () -> editor.deletePresent(root, new Key(-10, 128, 1)));
        assertEquals(root.bytenr(), e.bytenr());
        editor.deletePresent(root, new Key(-10, 128, 4096));
        assertFalse(editor.delete(root, new Key(-10, 128, 4096)), "gone");
        assertTrue(editor.delete(root, new Key(-10, 128, 8192)));
    }

    /** Tree 7 with three items (keys -10 128 at 0, 4096 and 8192) in one leaf {@code editor}'s transaction owns. */
    private static TreeRoot threeItems(TreeEditor editor) throws Exception {
        TreeRoot root = editor.createTree(7);
        for (int i = 0; i < 3; i++) editor.insert(root, new Key(-10, 128, i * 4096L), new byte[] {(byte) i});
        return root;
    }
}
