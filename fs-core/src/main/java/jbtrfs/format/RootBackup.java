package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * btrfs_root_backup (168 bytes), one slot of the superblock's ring of four (super_roots at 2859): the roots of a
 * recent commit, for mounting with {@code -o usebackuproot} when the newest ones are damaged. Layout: (bytenr,
 * generation) pairs of the tree, chunk, extent, fs, dev and csum roots at 0, 16, 32, 48, 64, 80; total_bytes 96,
 * bytes_used 104, num_devices 112; 32 unused bytes; the six roots' levels at 152..157; 10 unused bytes.
 */
public record RootBackup(Root treeRoot, Root chunkRoot, Root extentRoot, Root fsRoot, Root devRoot, Root csumRoot,
                         long totalBytes, long bytesUsed, long numDevices) {
    public static final int SIZE = 168;
    /** BTRFS_NUM_BACKUP_ROOTS. */
    public static final int NUM_BACKUP_ROOTS = 4;
    /** Where the ring starts in the superblock (after the 2048 bytes of sys_chunk_array). */
    public static final int OFFSET_SUPER_ROOTS = SuperBlock.OFFSET_SYS_CHUNK_ARRAY + SuperBlock.SYS_CHUNK_ARRAY_MAX;
    public static final int OFFSET_TREE_ROOT = 0;
    public static final int OFFSET_CHUNK_ROOT = 16;
    public static final int OFFSET_EXTENT_ROOT = 32;
    public static final int OFFSET_FS_ROOT = 48;
    public static final int OFFSET_DEV_ROOT = 64;
    public static final int OFFSET_CSUM_ROOT = 80;
    public static final int OFFSET_TOTAL_BYTES = 96;
    public static final int OFFSET_BYTES_USED = 104;
    public static final int OFFSET_NUM_DEVICES = 112;
    /** tree_root_level; the other five levels follow it in the order of the roots. */
    public static final int OFFSET_TREE_ROOT_LEVEL = 152;
    /** A root's generation sits right after its bytenr. */
    private static final int GEN = 8;
    private static final int ROOTS = 6;

    /** One backed-up root: block address, generation and level of its root node. */
    public record Root(long bytenr, long generation, int level) {
    }

    /** Offset of ring slot {@code slot} (0..3) in the superblock. */
    public static int offsetInSuper(int slot) {
        return OFFSET_SUPER_ROOTS + slot * SIZE;
    }

    /** Reads the backup at {@code offset} (of a little-endian buffer). */
    public static RootBackup read(ByteBuffer b, int offset) {
        Root[] r = new Root[ROOTS];
        for (int i = 0; i < ROOTS; i++) {
            int at = offset + i * 16;
            r[i] = new Root(b.getLong(at), b.getLong(at + GEN),
                    Byte.toUnsignedInt(b.get(offset + OFFSET_TREE_ROOT_LEVEL + i)));
        }
        return new RootBackup(r[0], r[1], r[2], r[3], r[4], r[5], b.getLong(offset + OFFSET_TOTAL_BYTES),
                b.getLong(offset + OFFSET_BYTES_USED), b.getLong(offset + OFFSET_NUM_DEVICES));
    }

    /** The tree root's generation of ring slot {@code slot} of {@code superBlock} (0: never filled). */
    public static long generationOfSlot(ByteBuffer superBlock, int slot) {
        return superBlock.getLong(offsetInSuper(slot) + OFFSET_TREE_ROOT + GEN);
    }

    /**
     * The slot the next commit fills: the one after the newest (the first with the highest tree root generation),
     * as backup_super_roots turns the ring; in a ring never filled slot 0 counts as the newest.
     */
    public static int nextSlot(ByteBuffer superBlock) {
        int newest = 0;
        for (int i = 1; i < NUM_BACKUP_ROOTS; i++) {
            if (generationOfSlot(superBlock, i) > generationOfSlot(superBlock, newest)) newest = i;
        }
        return (newest + 1) % NUM_BACKUP_ROOTS;
    }

    /** Writes this backup at {@code offset}, the unused bytes zeroed. */
    public void write(ByteBuffer b, int offset) {
        for (int i = 0; i < SIZE; i++) b.put(offset + i, (byte) 0);
        Root[] r = {treeRoot, chunkRoot, extentRoot, fsRoot, devRoot, csumRoot};
        for (int i = 0; i < ROOTS; i++) {
            b.putLong(offset + i * 16, r[i].bytenr()).putLong(offset + i * 16 + GEN, r[i].generation());
            b.put(offset + OFFSET_TREE_ROOT_LEVEL + i, (byte) r[i].level());
        }
        b.putLong(offset + OFFSET_TOTAL_BYTES, totalBytes).putLong(offset + OFFSET_BYTES_USED, bytesUsed)
                .putLong(offset + OFFSET_NUM_DEVICES, numDevices);
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        write(b, 0);
        return b.array();
    }
}
