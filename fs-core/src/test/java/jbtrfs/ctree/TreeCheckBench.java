package jbtrfs.ctree;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jbtrfs.csum.ChecksumType;
import jbtrfs.csum.NameHash;
import jbtrfs.format.DirItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.Header;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.Timespec;

/**
 * What the write-time tree checker costs a block, beside the checksum every written block gets anyway (a
 * benchmark command, not a test): fs-tree leaves of small files (inode, ref, dir item and index, xattr, 1000-byte
 * inline extent) built with the TreeEditor, checked and checksummed over and over on one thread; CPU time of that
 * thread, so other load on the machine counts little.
 * {@code java -cp fuse-adapter/target/jbtrfs.jar:fs-core/target/test-classes jbtrfs.ctree.TreeCheckBench [NODESIZE]}.
 */
public final class TreeCheckBench {
    private static final byte[] FSID = new byte[16];
    /** Consumes results so the JIT cannot drop the work. */
    static volatile int sink;

    private TreeCheckBench() {
    }

    public static void main(String[] args) throws Exception {
        int nodesize = args.length > 0 ? Integer.parseInt(args[0]) : 16384;
        TreeEditorTest.MemoryStore store = new TreeEditorTest.MemoryStore(nodesize);
        TreeEditor editor = new TreeEditor(store, nodesize, 1, FSID, new byte[16]);
        TreeRoot root = editor.createTree(5);
        Timespec t = new Timespec(1, 0);
        for (long ino = 257; ino < 257 + 4000; ino++) {
            byte[] name = ("file-" + ino).getBytes(StandardCharsets.UTF_8);
            editor.insert(root, new Key(ino, KeyType.INODE_ITEM, 0),
                    new InodeItem(1, 1, 1000, 0, 0, 1, 0, 0, 0100644, 0, 0, 0, t, t, t, t).encode());
            ByteBuffer ref = ByteBuffer.allocate(10 + name.length).order(ByteOrder.LITTLE_ENDIAN);
            ref.putLong(0, ino).putShort(8, (short) name.length).put(10, name);
            editor.insert(root, new Key(ino, KeyType.INODE_REF, 256), ref.array());
            byte[] xname = "user.bench".getBytes(StandardCharsets.UTF_8);
            editor.insert(root, new Key(ino, KeyType.XATTR_ITEM, NameHash.of(xname)),
                    new DirItem(new Key(0, 0, 0), 1, DirItem.FT_XATTR, xname, new byte[] {1}).encode());
            editor.insert(root, new Key(ino, KeyType.EXTENT_DATA, 0), FileExtentItem.encodeInline(1, new byte[1000]));
            byte[] entry = new DirItem(new Key(ino, KeyType.INODE_ITEM, 0), 1, DirItem.FT_REG_FILE, name,
                    new byte[0]).encode();
            editor.insert(root, new Key(256, KeyType.DIR_ITEM, NameHash.of(name)), entry);
            editor.insert(root, new Key(256, KeyType.DIR_INDEX, ino), entry);
        }
        List<Map.Entry<Long, ByteBuffer>> blocks = new ArrayList<>(store.blocks.entrySet());
        int leaves = 0;
        for (Map.Entry<Long, ByteBuffer> e : blocks) if (e.getValue().get(Header.OFFSET_LEVEL) == 0) leaves++;
        System.out.printf("%d blocks of %d bytes (%d leaves)%n", blocks.size(), nodesize, leaves);
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        byte[] csum = new byte[ChecksumType.CSUM_SIZE];
        for (int pass = 0; pass < 5; pass++) {
            int rounds = 50;
            long c0 = cpu.getCurrentThreadCpuTime();
            for (int r = 0; r < rounds; r++) {
                for (Map.Entry<Long, ByteBuffer> e : blocks) {
                    ByteBuffer b = e.getValue();
                    TreeChecker.checkBeforeWrite(b, e.getKey(), FSID, nodesize, 1, 5, b.get(Header.OFFSET_LEVEL),
                            ChecksumType.CRC32C.size());
                }
            }
            long c1 = cpu.getCurrentThreadCpuTime();
            for (int r = 0; r < rounds; r++) {
                for (Map.Entry<Long, ByteBuffer> e : blocks) {
                    ChecksumType.CRC32C.compute(e.getValue(), Header.CSUM_START, nodesize - Header.CSUM_START, csum);
                    sink ^= csum[0];
                }
            }
            long c2 = cpu.getCurrentThreadCpuTime();
            double n = (double) rounds * blocks.size();
            System.out.printf("pass %d: check %.2f us a block, crc32c %.2f us a block (CPU time)%n", pass,
                    (c1 - c0) / 1e3 / n, (c2 - c1) / 1e3 / n);
        }
    }
}
