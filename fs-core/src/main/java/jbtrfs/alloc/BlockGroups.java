package jbtrfs.alloc;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.ChunkMap;

/**
 * Every block group and its free space (≈ the block group cache plus the free-space caches of the kernel): where
 * new tree blocks and data extents go. Free space is derived at mount from the extent tree, the ground truth the
 * free-space tree must agree with. Not thread-safe: the running transaction owns it.
 */
public final class BlockGroups {
    private static final long SUPER_STRIPE = 64 * 1024;

    private final TreeMap<Long, BlockGroup> groups = new TreeMap<>();
    private final Map<Long, Long> hints = new TreeMap<>();
    private final int nodesize;
    private ChunkAllocator chunkAllocator;

    /** No groups yet: {@link #load} fills them from the trees, {@link #addNew} one by one. */
    BlockGroups(int nodesize) {
        this.nodesize = nodesize;
    }

    /**
     * Loads the block group items from {@code blockGroupTree} and their used ranges from {@code extentTree}
     * (EXTENT_ITEM covers its length, METADATA_ITEM one node).
     */
    public static BlockGroups load(BTree blockGroupTree, BTree extentTree, int nodesize, ChunkMap chunks)
            throws FsException {
        BlockGroups bgs = new BlockGroups(nodesize);
        Cursor c = blockGroupTree.seek(new Key(0, 0, 0));
        while (c.valid()) {
            Key k = c.key();
            if (k.type() == KeyType.BLOCK_GROUP_ITEM) {
                BlockGroupItem item = c.decode(BlockGroupItem.SIZE, BlockGroupItem::read);
                checkAgainstChunk(c, item, chunks);
                bgs.groups.put(k.objectid(), new BlockGroup(k.objectid(), k.offset(), item.flags()));
            }
            c.next();
        }
        // used ranges in address order; the gaps between them in each group are free
        Map<Long, Long> cursor = new TreeMap<>();
        for (BlockGroup bg : bgs.groups.values()) cursor.put(bg.start(), bg.start());
        Cursor e = extentTree.seek(new Key(0, 0, 0));
        while (e.valid()) {
            Key k = e.key();
            long len = k.type() == KeyType.EXTENT_ITEM ? k.offset() : k.type() == KeyType.METADATA_ITEM ? nodesize : -1;
            if (len > 0) {
                BlockGroup bg = bgs.find(k.objectid());
                if (bg == null || k.objectid() + len > bg.end()) {
                    throw new CorruptBlockException(extentTree.id(), e.leaf().bytenr(), e.slot(),
                            "extent " + k + " lies outside every block group");
                }
                long at = cursor.get(bg.start());
                if (k.objectid() < at) {
                    throw new CorruptBlockException(extentTree.id(), e.leaf().bytenr(), e.slot(),
                            "extent " + k + " overlaps the extent before it");
                }
                if (k.objectid() > at) bg.addFree(at, k.objectid() - at);
                cursor.put(bg.start(), k.objectid() + len);
            }
            e.next();
        }
        for (BlockGroup bg : bgs.groups.values()) {
            long at = cursor.get(bg.start());
            if (at < bg.end()) bg.addFree(at, bg.end() - at);
            bgs.excludeSuperStripes(bg, chunks);
            bg.clearDirty();
        }
        return bgs;
    }

    /**
     * A block group lies exactly on a chunk of its type and profile, as the kernel's read_one_block_group checks:
     * a group whose flags say SYSTEM over a DATA chunk would have its tree blocks put where the sys_chunk_array
     * cannot find them.
     */
    private static void checkAgainstChunk(Cursor c, BlockGroupItem item, ChunkMap chunks)
            throws CorruptBlockException {
        Key k = c.key();
        Chunk chunk = chunks.find(k.objectid());
        long mask = BlockGroupFlags.TYPE_MASK | BlockGroupFlags.PROFILE_MASK;
        if (chunk == null || chunk.logical() != k.objectid() || chunk.length() != k.offset()) {
            throw c.corrupt("block group has no chunk of its start and length");
        }
        if ((chunk.item().type() & mask) != (item.flags() & mask)) {
            throw c.corrupt("block group flags 0x" + Long.toHexString(item.flags()) + " do not match its chunk's type 0x"
                    + Long.toHexString(chunk.item().type()));
        }
    }

    public void setChunkAllocator(ChunkAllocator allocator) { this.chunkAllocator = allocator; }

    /** The block group holding {@code bytenr}, or null. */
    public BlockGroup find(long bytenr) {
        Map.Entry<Long, BlockGroup> e = groups.floorEntry(bytenr);
        return e != null && bytenr < e.getValue().end() ? e.getValue() : null;
    }

    public Collection<BlockGroup> all() { return groups.values(); }

    /** Whether the running transaction made a block group (its chunk is in no committed tree yet). */
    public boolean anyNew() {
        for (BlockGroup bg : groups.values()) if (bg.isNew()) return true;
        return false;
    }

    /** The block groups changed in the running transaction. */
    public List<BlockGroup> dirty() {
        List<BlockGroup> out = new ArrayList<>();
        for (BlockGroup bg : groups.values()) if (bg.dirty()) out.add(bg);
        return out;
    }

    /**
     * The superblock copies that fall inside the group's chunk stay out of its free space: the 64 KiB stripe around
     * each copy's physical offset on each member, mapped back to a logical range (≈ btrfs_rmap_block: a striped
     * chunk's stripe_len unit n on stripe i is unit n * num_stripes + i of the chunk, over sub_stripes for RAID10;
     * a RAID5/6 chunk's row n on any stripe, data or parity, is its whole full stripe n).
     */
    private void excludeSuperStripes(BlockGroup bg, ChunkMap chunks) {
        Chunk chunk = chunks.find(bg.start());
        if (chunk == null) return;
        long profile = chunk.item().type() & BlockGroupFlags.PROFILE_MASK;
        boolean striped = profile == BlockGroupFlags.RAID0 || profile == BlockGroupFlags.RAID10;
        int parity = profile == BlockGroupFlags.RAID5 ? 1 : profile == BlockGroupFlags.RAID6 ? 2 : 0;
        int numStripes = chunk.item().numStripes();
        int subStripes = profile == BlockGroupFlags.RAID10 ? Math.max(1, chunk.item().subStripes()) : 1;
        List<Stripe> stripes = chunk.item().stripes();
        for (int i = 0; i < stripes.size(); i++) {
            Stripe s = stripes.get(i);
            for (long mirror : SuperBlock.MIRROR_OFFSETS) {
                if (mirror < s.offset() || mirror >= s.offset() + chunk.stripeLength()) continue;
                long unit = (mirror - s.offset()) / SUPER_STRIPE;
                if (striped) unit = (unit * numStripes + i) / subStripes;
                long length = SUPER_STRIPE * (parity == 0 ? 1 : numStripes - parity);
                bg.excludeSuper(chunk.logical() + unit * length, length);
            }
        }
    }

    /** Adds a block group made by the running transaction, all free but for superblock copies. */
    public BlockGroup addNew(long start, long length, long flags, ChunkMap chunks) {
        BlockGroup bg = new BlockGroup(start, length, flags);
        bg.addFree(start, length);
        excludeSuperStripes(bg, chunks);
        bg.markNew();
        groups.put(start, bg);
        return bg;
    }

    /** Allocates a tree block for a tree that lives in block groups of {@code type} (METADATA or SYSTEM). */
    public long allocateTreeBlock(long type) throws FsException {
        return allocate(type, nodesize, nodesize);
    }

    /**
     * Allocates {@code size} bytes aligned to {@code align} in a block group of {@code type}, making a new chunk
     * when none has room; {@link Errno#ENOSPC} when the device has none left either.
     */
    public long allocate(long type, long size, long align) throws FsException {
        long at = tryAllocate(type, size, align);
        if (at >= 0) return at;
        if (chunkAllocator != null && chunkAllocator.allocateChunk(this, type, size)) {
            at = tryAllocate(type, size, align);
            if (at >= 0) return at;
        }
        throw new FsException(Errno.ENOSPC, "no " + typeName(type) + " space for " + size + " bytes");
    }

    /** Allocates like {@link #allocate} but never makes a chunk: -1 when the existing groups have no room. */
    public long tryAllocate(long type, long size, long align) {
        long hint = hints.getOrDefault(type, 0L);
        // from the hint on first (locality), then from the start
        for (int pass = 0; pass < 2; pass++) {
            for (BlockGroup bg : pass == 0 ? groups.tailMap(groups.floorKey(hint) == null ? 0L : groups.floorKey(hint),
                    true).values() : groups.values()) {
                if (!bg.holds(type) || bg.freeBytes() < size) continue;
                long at = bg.find(size, align, pass == 0 ? hint : bg.start());
                if (at >= 0) {
                    bg.take(at, size);
                    hints.put(type, at + size);
                    return at;
                }
            }
        }
        return -1;
    }

    /** The largest extent one allocation of {@code type} could get now without a new chunk. */
    public long largestFree(long type) {
        long best = 0;
        for (BlockGroup bg : groups.values()) if (bg.holds(type)) best = Math.max(best, bg.largestFree());
        return best;
    }

    /** Free bytes in block groups of {@code type} now. */
    public long freeBytes(long type) {
        long n = 0;
        for (BlockGroup bg : groups.values()) if (bg.holds(type)) n += bg.freeBytes();
        return n;
    }

    /** Takes exactly [at, at+size) for {@code type} when all of it is free in one group; false otherwise. */
    public boolean tryTake(long at, long size, long type) {
        BlockGroup bg = find(at);
        if (bg == null || !bg.holds(type) || at + size > bg.end() || !bg.isFree(at, size)) return false;
        bg.take(at, size);
        return true;
    }

    /** Returns space allocated in the running transaction and not committed. */
    public void release(long at, long size) { group(at).release(at, size); }

    /** Frees committed space when the running transaction commits. */
    public void pin(long at, long size) { group(at).pin(at, size); }

    /** After a commit: pinned space becomes free, nothing is dirty. */
    public void committed() {
        for (BlockGroup bg : groups.values()) {
            bg.unpin();
            bg.clearDirty();
        }
    }

    /** Sum of every group's used bytes after commit (the superblock's bytes_used). */
    public long usedAfterCommit() {
        long n = 0;
        for (BlockGroup bg : groups.values()) n += bg.usedAfterCommit();
        return n;
    }

    private BlockGroup group(long at) {
        BlockGroup bg = find(at);
        if (bg == null) throw new IllegalStateException("no block group holds " + at);
        return bg;
    }

    static String typeName(long type) {
        if ((type & BlockGroupFlags.DATA) != 0 && (type & BlockGroupFlags.METADATA) != 0) return "data+metadata";
        if ((type & BlockGroupFlags.DATA) != 0) return "data";
        if ((type & BlockGroupFlags.SYSTEM) != 0) return "system";
        return "metadata";
    }

    /** Makes a new chunk and block group of a type when the existing ones are full. */
    public interface ChunkAllocator {
        /** Adds a chunk of {@code type} with room for {@code size} bytes; false when the device has no room. */
        boolean allocateChunk(BlockGroups groups, long type, long minSize) throws FsException;
    }
}
