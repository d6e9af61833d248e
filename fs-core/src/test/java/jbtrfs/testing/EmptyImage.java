package jbtrfs.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import jbtrfs.csum.ChecksumType;
import jbtrfs.csum.NameHash;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.DevExtent;
import jbtrfs.format.DirItem;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.Features;
import jbtrfs.format.FreeSpaceInfo;
import jbtrfs.format.Header;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootBackup;
import jbtrfs.format.RootItem;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.format.Timespec;

/**
 * An empty single-device Btrfs image made in memory with our own format codecs, for unit tests that need a
 * filesystem without mkfs.btrfs. It is what {@code mkfs.btrfs} 6.2 makes of a 256 MiB device with its defaults
 * (crc32c, nodesize 16 KiB, no-holes, extended refs, skinny metadata, free-space tree; data single, metadata and
 * system DUP): the same three chunks and dev extents at the same addresses, and the same items in the chunk, root,
 * extent, dev, fs, csum, uuid, free-space and data reloc trees, one leaf each. The leaves lie elsewhere in the
 * metadata chunk (mkfs leaves holes where it rewrote them), and the uuids and times come from the seed and
 * {@code nowSeconds}.
 * {@code EmptyImageTest} checks it with {@code btrfs check}, a kernel mount, and against a real mkfs.
 */
public final class EmptyImage {
    public static final long SIZE = 256L << 20;
    public static final int NODESIZE = 16384;
    public static final int SECTORSIZE = 4096;
    public static final long GENERATION = 1;

    public static final long DATA_START = 13631488;
    public static final long DATA_LENGTH = 8L << 20;
    public static final long SYSTEM_START = 22020096;
    private static final long SYSTEM_LENGTH = 8L << 20;
    private static final long[] SYSTEM_STRIPES = {22020096, 30408704};
    public static final long METADATA_START = 30408704;
    private static final long METADATA_LENGTH = 32L << 20;
    private static final long[] METADATA_STRIPES = {38797312, 72351744};
    private static final long STRIPE_LEN = 65536;
    private static final long DEVID = 1;
    /** The trees in the metadata block group, in the order of their leaves there. */
    private static final long[] METADATA_TREES = {ObjectIds.EXTENT_TREE, ObjectIds.DEV_TREE, ObjectIds.FS_TREE,
            ObjectIds.CSUM_TREE, ObjectIds.UUID_TREE, ObjectIds.FREE_SPACE_TREE, ObjectIds.DATA_RELOC_TREE,
            ObjectIds.ROOT_TREE};

    private final byte[] fsid = new byte[16];
    private final byte[] chunkTreeUuid = new byte[16];
    private final byte[] devUuid = new byte[16];
    private final byte[] fsTreeUuid = new byte[16];
    private final Timespec now;
    private final boolean noHoles;
    private final SparseBytes image = new SparseBytes(SIZE);

    private EmptyImage(long seed, long nowSeconds, boolean noHoles) {
        Random r = new Random(seed);
        r.nextBytes(fsid);
        r.nextBytes(chunkTreeUuid);
        r.nextBytes(devUuid);
        r.nextBytes(fsTreeUuid);
        this.now = new Timespec(nowSeconds, 0);
        this.noHoles = noHoles;
    }

    /** A fresh empty image: uuids from {@code seed}, the root directories' times {@code nowSeconds}. */
    public static SparseBytes format(long seed, long nowSeconds) {
        return format(seed, nowSeconds, true);
    }

    /** {@link #format(long, long)}, without the no-holes feature when {@code noHoles} is false (mkfs -O ^no-holes). */
    public static SparseBytes format(long seed, long nowSeconds, boolean noHoles) {
        EmptyImage e = new EmptyImage(seed, nowSeconds, noHoles);
        e.write();
        return e.image;
    }

    /** The in-memory device (no faults, queue depth 64) over a fresh empty image with uuids from {@code seed}. */
    public static MemoryBlockDevice device(long seed) {
        return PowerCuts.memoryDevice(format(seed, 1_700_000_000L));
    }

    /** Where the leaf of {@code tree} lies (logical). */
    public static long leafOf(long tree) {
        if (tree == ObjectIds.CHUNK_TREE) return SYSTEM_START;
        for (int i = 0; i < METADATA_TREES.length; i++) {
            if (METADATA_TREES[i] == tree) return METADATA_START + (long) i * NODESIZE;
        }
        throw new IllegalArgumentException("no tree " + tree + " in an empty image");
    }

    private void write() {
        Map<Long, Map<Key, byte[]>> trees = new TreeMap<>();
        for (long t : METADATA_TREES) trees.put(t, new TreeMap<>());
        trees.put(ObjectIds.CHUNK_TREE, new TreeMap<>());
        chunkTree(trees.get(ObjectIds.CHUNK_TREE));
        rootTree(trees.get(ObjectIds.ROOT_TREE));
        extentTree(trees.get(ObjectIds.EXTENT_TREE));
        devTree(trees.get(ObjectIds.DEV_TREE));
        rootDirectory(trees.get(ObjectIds.FS_TREE), NODESIZE);
        rootDirectory(trees.get(ObjectIds.DATA_RELOC_TREE), 0);
        ByteBuffer u = ByteBuffer.wrap(fsTreeUuid).order(ByteOrder.LITTLE_ENDIAN);
        trees.get(ObjectIds.UUID_TREE).put(new Key(u.getLong(0), KeyType.UUID_KEY_SUBVOL, u.getLong(8)),
                le(8).putLong(0, ObjectIds.FS_TREE).array());
        freeSpaceTree(trees.get(ObjectIds.FREE_SPACE_TREE));
        for (var t : trees.entrySet()) {
            long logical = leafOf(t.getKey());
            ByteBuffer leaf = leaf(logical, t.getKey(), t.getValue());
            if (t.getKey() == ObjectIds.CHUNK_TREE) {
                for (long s : SYSTEM_STRIPES) put(s + logical - SYSTEM_START, leaf);
            } else {
                for (long s : METADATA_STRIPES) put(s + logical - METADATA_START, leaf);
            }
        }
        superBlock();
    }

    private void chunkTree(Map<Key, byte[]> items) {
        items.put(new Key(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM, DEVID), devItem());
        items.put(chunkKey(DATA_START), chunk(DATA_LENGTH, BlockGroupFlags.DATA, DATA_START).encode());
        items.put(chunkKey(SYSTEM_START), systemChunk().encode());
        items.put(chunkKey(METADATA_START), chunk(METADATA_LENGTH, BlockGroupFlags.METADATA | BlockGroupFlags.DUP,
                METADATA_STRIPES).encode());
    }

    private ChunkItem systemChunk() {
        return chunk(SYSTEM_LENGTH, BlockGroupFlags.SYSTEM | BlockGroupFlags.DUP, SYSTEM_STRIPES);
    }

    private static Key chunkKey(long logical) {
        return new Key(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, logical);
    }

    private ChunkItem chunk(long length, long type, long... physical) {
        List<Stripe> stripes = new ArrayList<>();
        for (long p : physical) stripes.add(new Stripe(DEVID, p, devUuid));
        return new ChunkItem(length, ObjectIds.EXTENT_TREE, STRIPE_LEN, type, (int) STRIPE_LEN, (int) STRIPE_LEN,
                SECTORSIZE, stripes.size(), 1, stripes);
    }

    private void rootTree(Map<Key, byte[]> items) {
        for (long t : new long[] {ObjectIds.EXTENT_TREE, ObjectIds.DEV_TREE, ObjectIds.CSUM_TREE,
                ObjectIds.UUID_TREE, ObjectIds.FREE_SPACE_TREE}) {
            items.put(new Key(t, KeyType.ROOT_ITEM, 0), RootItem.encodeNewTree(leafOf(t), GENERATION, NODESIZE));
        }
        items.put(new Key(ObjectIds.FS_TREE, KeyType.ROOT_ITEM, 0), subvolumeRoot(ObjectIds.FS_TREE, fsTreeUuid));
        items.put(new Key(ObjectIds.DATA_RELOC_TREE, KeyType.ROOT_ITEM, 0),
                subvolumeRoot(ObjectIds.DATA_RELOC_TREE, new byte[16]));
        // the root tree's directory: its "default" entry names the default subvolume (mkfs's, kept for old kernels)
        byte[] name = "default".getBytes(StandardCharsets.US_ASCII);
        items.put(new Key(ObjectIds.FS_TREE, KeyType.INODE_REF, ObjectIds.ROOT_TREE_DIR),
                new InodeRef(0, name).encode());
        items.put(new Key(ObjectIds.ROOT_TREE_DIR, KeyType.INODE_ITEM, 0), directory(NODESIZE).encode());
        items.put(new Key(ObjectIds.ROOT_TREE_DIR, KeyType.INODE_REF, ObjectIds.ROOT_TREE_DIR), dotDot());
        items.put(new Key(ObjectIds.ROOT_TREE_DIR, KeyType.DIR_ITEM, NameHash.of(name)),
                new DirItem(new Key(ObjectIds.FS_TREE, KeyType.ROOT_ITEM, -1L), 0, DirItem.FT_DIR, name,
                        new byte[0]).encode());
    }

    /** The root item of a subvolume-like tree with its root directory 256. */
    private byte[] subvolumeRoot(long tree, byte[] uuid) {
        ByteBuffer b = ByteBuffer.wrap(RootItem.encodeNewTree(leafOf(tree), GENERATION, NODESIZE))
                .order(ByteOrder.LITTLE_ENDIAN);
        InodeItem inode = new InodeItem(1, 0, 3, NODESIZE, 0, 1, 0, 0, 040755, 0, RootItem.INODE_ROOT_ITEM_INIT, 0,
                zero(), zero(), zero(), zero());
        inode.write(b, 0);
        b.putLong(RootItem.OFFSET_ROOT_DIRID, ObjectIds.FIRST_FREE_DIR).put(RootItem.OFFSET_UUID, uuid);
        if (tree == ObjectIds.FS_TREE) {
            now.write(b, RootItem.OFFSET_CTIME);
            now.write(b, RootItem.OFFSET_OTIME);
        }
        return b.array();
    }

    private void rootDirectory(Map<Key, byte[]> items, long nbytes) {
        items.put(new Key(ObjectIds.FIRST_FREE_DIR, KeyType.INODE_ITEM, 0), directory(nbytes).encode());
        items.put(new Key(ObjectIds.FIRST_FREE_DIR, KeyType.INODE_REF, ObjectIds.FIRST_FREE_DIR), dotDot());
    }

    private InodeItem directory(long nbytes) {
        return new InodeItem(GENERATION, 0, 0, nbytes, 0, 1, 0, 0, 040755, 0, 0, 0, now, now, now, now);
    }

    private static byte[] dotDot() {
        return new InodeRef(0, "..".getBytes(StandardCharsets.US_ASCII)).encode();
    }

    private void extentTree(Map<Key, byte[]> items) {
        items.put(new Key(DATA_START, KeyType.BLOCK_GROUP_ITEM, DATA_LENGTH),
                new BlockGroupItem(0, ObjectIds.FIRST_CHUNK_TREE, BlockGroupFlags.DATA).encode());
        items.put(new Key(SYSTEM_START, KeyType.BLOCK_GROUP_ITEM, SYSTEM_LENGTH), new BlockGroupItem(NODESIZE,
                ObjectIds.FIRST_CHUNK_TREE, BlockGroupFlags.SYSTEM | BlockGroupFlags.DUP).encode());
        items.put(new Key(METADATA_START, KeyType.BLOCK_GROUP_ITEM, METADATA_LENGTH),
                new BlockGroupItem((long) METADATA_TREES.length * NODESIZE, ObjectIds.FIRST_CHUNK_TREE,
                        BlockGroupFlags.METADATA | BlockGroupFlags.DUP).encode());
        List<Long> all = new ArrayList<>();
        all.add(ObjectIds.CHUNK_TREE);
        for (long t : METADATA_TREES) all.add(t);
        for (long t : all) {
            items.put(new Key(leafOf(t), KeyType.METADATA_ITEM, 0), new ExtentItem(1, GENERATION,
                    ExtentItem.FLAG_TREE_BLOCK, null, 0, List.of(ExtentItem.InlineRef.treeBlock(t))).encode());
        }
    }

    private void devTree(Map<Key, byte[]> items) {
        items.put(new Key(DEVID, KeyType.DEV_EXTENT, DATA_START), devExtent(DATA_START, DATA_LENGTH));
        for (long p : SYSTEM_STRIPES) {
            items.put(new Key(DEVID, KeyType.DEV_EXTENT, p), devExtent(SYSTEM_START, SYSTEM_LENGTH));
        }
        for (long p : METADATA_STRIPES) {
            items.put(new Key(DEVID, KeyType.DEV_EXTENT, p), devExtent(METADATA_START, METADATA_LENGTH));
        }
    }

    private byte[] devExtent(long chunk, long length) {
        return new DevExtent(ObjectIds.CHUNK_TREE, ObjectIds.FIRST_CHUNK_TREE, chunk, length, chunkTreeUuid).encode();
    }

    private static void freeSpaceTree(Map<Key, byte[]> items) {
        long metaUsed = (long) METADATA_TREES.length * NODESIZE;
        freeGroup(items, DATA_START, DATA_LENGTH, 0);
        freeGroup(items, SYSTEM_START, SYSTEM_LENGTH, NODESIZE);
        freeGroup(items, METADATA_START, METADATA_LENGTH, metaUsed);
    }

    /** One block group whose first {@code used} bytes hold tree blocks and the rest is one free extent. */
    private static void freeGroup(Map<Key, byte[]> items, long start, long length, long used) {
        items.put(new Key(start, KeyType.FREE_SPACE_INFO, length), new FreeSpaceInfo(1, 0).encode());
        items.put(new Key(start + used, KeyType.FREE_SPACE_EXTENT, length - used), new byte[0]);
    }

    /** One leaf holding {@code items}, checksummed. */
    private ByteBuffer leaf(long bytenr, long owner, Map<Key, byte[]> items) {
        ByteBuffer b = le(NODESIZE);
        b.put(Header.OFFSET_FSID, fsid).putLong(Header.OFFSET_BYTENR, bytenr)
                // backref revision 1 (MIXED_BACKREF) in the flags' top byte
                .putLong(Header.OFFSET_FLAGS, Header.FLAG_WRITTEN | (1L << 56))
                .put(Header.OFFSET_CHUNK_TREE_UUID, chunkTreeUuid).putLong(Header.OFFSET_GENERATION, GENERATION)
                .putLong(Header.OFFSET_OWNER, owner).putInt(Header.OFFSET_NRITEMS, items.size())
                .put(Header.OFFSET_LEVEL, (byte) 0);
        int slot = 0;
        int dataEnd = NODESIZE - Header.SIZE;
        for (var e : items.entrySet()) {
            int at = Header.SIZE + slot++ * (Key.SIZE + 8);
            dataEnd -= e.getValue().length;
            e.getKey().write(b, at);
            b.putInt(at + Key.SIZE, dataEnd).putInt(at + Key.SIZE + 4, e.getValue().length);
            b.put(Header.SIZE + dataEnd, e.getValue());
        }
        byte[] csum = new byte[ChecksumType.CSUM_SIZE];
        ChecksumType.CRC32C.compute(b, Header.CSUM_START, NODESIZE - Header.CSUM_START, csum);
        b.put(Header.OFFSET_CSUM, csum);
        return b;
    }

    private void superBlock() {
        ByteBuffer b = le(SuperBlock.SIZE);
        long bytesUsed = (long) (METADATA_TREES.length + 1) * NODESIZE;
        b.put(SuperBlock.OFFSET_FSID, fsid).putLong(SuperBlock.OFFSET_FLAGS, Header.FLAG_WRITTEN)
                .putLong(SuperBlock.OFFSET_MAGIC, SuperBlock.MAGIC).putLong(SuperBlock.OFFSET_GENERATION, GENERATION)
                .putLong(SuperBlock.OFFSET_ROOT, leafOf(ObjectIds.ROOT_TREE))
                .putLong(SuperBlock.OFFSET_CHUNK_ROOT, SYSTEM_START).putLong(SuperBlock.OFFSET_TOTAL_BYTES, SIZE)
                .putLong(SuperBlock.OFFSET_BYTES_USED, bytesUsed)
                .putLong(SuperBlock.OFFSET_ROOT_DIR_OBJECTID, ObjectIds.ROOT_TREE_DIR)
                .putLong(SuperBlock.OFFSET_NUM_DEVICES, 1).putInt(SuperBlock.OFFSET_SECTORSIZE, SECTORSIZE)
                .putInt(SuperBlock.OFFSET_NODESIZE, NODESIZE).putInt(SuperBlock.OFFSET_NODESIZE + 4, NODESIZE)
                .putInt(SuperBlock.OFFSET_STRIPESIZE, SECTORSIZE)
                .putLong(SuperBlock.OFFSET_CHUNK_ROOT_GENERATION, GENERATION)
                .putLong(SuperBlock.OFFSET_COMPAT_RO_FLAGS,
                        Features.COMPAT_RO_FREE_SPACE_TREE | Features.COMPAT_RO_FREE_SPACE_TREE_VALID)
                .putLong(SuperBlock.OFFSET_INCOMPAT_FLAGS, Features.INCOMPAT_MIXED_BACKREF
                        | Features.INCOMPAT_EXTENDED_IREF | Features.INCOMPAT_SKINNY_METADATA
                        | (noHoles ? Features.INCOMPAT_NO_HOLES : 0));
        b.put(SuperBlock.OFFSET_DEV_ITEM, devItem());
        // the system chunk, so that the chunk tree can be found
        byte[] chunk = systemChunk().encode();
        chunkKey(SYSTEM_START).write(b, SuperBlock.OFFSET_SYS_CHUNK_ARRAY);
        b.put(SuperBlock.OFFSET_SYS_CHUNK_ARRAY + Key.SIZE, chunk);
        b.putInt(SuperBlock.OFFSET_SYS_CHUNK_ARRAY_SIZE, Key.SIZE + chunk.length);
        new RootBackup(backupRoot(ObjectIds.ROOT_TREE), backupRoot(ObjectIds.CHUNK_TREE),
                backupRoot(ObjectIds.EXTENT_TREE), backupRoot(ObjectIds.FS_TREE), backupRoot(ObjectIds.DEV_TREE),
                backupRoot(ObjectIds.CSUM_TREE), SIZE, bytesUsed, 1).write(b, RootBackup.offsetInSuper(0));
        for (long off : SuperBlock.MIRROR_OFFSETS) {
            if (off + SuperBlock.SIZE > SIZE) continue;
            b.putLong(SuperBlock.OFFSET_BYTENR, off);
            byte[] csum = new byte[ChecksumType.CSUM_SIZE];
            ChecksumType.CRC32C.compute(b, SuperBlock.CSUM_SIZE, SuperBlock.SIZE - SuperBlock.CSUM_SIZE, csum);
            b.put(0, csum);
            put(off, b);
        }
    }

    /** btrfs_dev_item of the one device (DevItem has no encoder: only the commit's bytes_used update writes it). */
    private byte[] devItem() {
        ByteBuffer dev = le(98);
        dev.putLong(0, DEVID).putLong(8, SIZE).putLong(16, DATA_LENGTH + 2 * SYSTEM_LENGTH + 2 * METADATA_LENGTH)
                .putInt(24, SECTORSIZE).putInt(28, SECTORSIZE).putInt(32, SECTORSIZE).put(66, devUuid).put(82, fsid);
        return dev.array();
    }

    private static RootBackup.Root backupRoot(long tree) {
        return new RootBackup.Root(leafOf(tree), GENERATION, 0);
    }

    private void put(long offset, ByteBuffer block) {
        image.write(offset, block.array(), 0, block.capacity());
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static Timespec zero() {
        return new Timespec(0, 0);
    }
}
