package jbtrfs.ctree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import jbtrfs.format.Key;

/** Cursor moves across leaves: item by item and leaf by leaf must meet the same leaves in the same order. */
class CursorTest {
    private static final byte[] FSID = new byte[16];
    private static final byte[] CHUNK_UUID = new byte[16];

    @Test
    void nextLeaf_fromAnySlot_landsOnTheNextLeafsFirstItem_untilPastTheLast() throws Exception {
        int nodesize = 4096;
        TreeEditorTest.MemoryStore store = new TreeEditorTest.MemoryStore(nodesize);
        TreeEditor editor = new TreeEditor(store, nodesize, 1, FSID, CHUNK_UUID);
        TreeRoot root = editor.createTree(5);
        for (int i = 0; i < 10_000; i++) editor.put(root, new Key(256 + i, 1, 0), new byte[40]);
        BTree tree = new BTree(store, root.owner(), root.bytenr(), root.level(), root.generation());
        assertTrue(root.level() >= 2, "the tree is too small to cross nodes: level " + root.level());

        // the leaves as item by item meets them, each with its first key
        List<Long> leaves = new ArrayList<>();
        List<Key> firsts = new ArrayList<>();
        for (Cursor c = tree.seek(new Key(0, 0, 0)); c.valid(); c.next()) {
            if (leaves.isEmpty() || leaves.get(leaves.size() - 1) != c.leaf().bytenr()) {
                leaves.add(c.leaf().bytenr());
                firsts.add(c.key());
            }
        }
        assertEquals(10_000, countItems(tree));

        List<Long> walked = new ArrayList<>();
        Cursor c = tree.seek(new Key(0, 0, 0));
        while (c.valid()) {
            walked.add(c.leaf().bytenr());
            assertEquals(firsts.get(walked.size() - 1), c.key());
            c.nextLeaf();
        }
        assertEquals(leaves, walked);
        assertFalse(c.nextLeaf(), "an invalid cursor moved");

        // from the middle of a leaf, not its first slot
        Cursor mid = tree.seek(new Key(firsts.get(3).objectid() + 1, 1, 0));
        assertEquals(leaves.get(3), mid.leaf().bytenr());
        assertTrue(mid.nextLeaf());
        assertEquals(firsts.get(4), mid.key());
    }

    private static int countItems(BTree tree) throws Exception {
        int n = 0;
        for (Cursor c = tree.seek(new Key(0, 0, 0)); c.valid(); c.next()) n++;
        return n;
    }
}
