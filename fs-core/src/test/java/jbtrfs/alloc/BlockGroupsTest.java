package jbtrfs.alloc;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.ChunkMap;

/**
 * The allocator over several block groups, without an image: where data and tree blocks go (their type, the
 * alignment, the hint), full groups (a new chunk, then ENOSPC), space freed before and after a commit, and the
 * superblock copy a chunk covers.
 */
class BlockGroupsTest {
    private static final long MIB = 1 << 20;
    private static final int NODESIZE = 16384;
    private static final long DATA_AT = 1024 * MIB;
    private static final long META_AT = 2048 * MIB;
    private static final long GROUP = 8 * MIB;

    private final ChunkMap chunks = new ChunkMap();
    private final BlockGroups groups = new BlockGroups(NODESIZE);

    /** A chunk of {@code type} at {@code logical}, its one stripe at {@code physical}, and its block group. */
    private BlockGroup group(long logical, long physical, long length, long type) {
        chunks.add(logical, new ChunkItem(length, 2, ChunkItem.STRIPE_LEN, type, 4096, 4096, 4096, 1, 0,
                List.of(new Stripe(1, physical, new byte[16]))));
        return groups.addNew(logical, length, type, chunks);
    }

    @Test
    void allocate_takesAlignedSpaceInAGroupOfItsType_andGoesOnFromTheLast() throws Exception {
        BlockGroup data = group(DATA_AT, 100 * MIB, GROUP, BlockGroupFlags.DATA);
        BlockGroup meta = group(META_AT, 200 * MIB, GROUP, BlockGroupFlags.METADATA);
        long a = groups.allocate(BlockGroupFlags.DATA, 5000, 4096);
        long b = groups.allocate(BlockGroupFlags.DATA, 4096, 4096);
        long t = groups.allocateTreeBlock(BlockGroupFlags.METADATA);
        assertEquals(DATA_AT, a);
        assertEquals(DATA_AT + 8192, b, "the next data extent starts at the next aligned byte after the last");
        assertEquals(META_AT, t);
        assertSame(meta, groups.find(t));
        assertEquals(GROUP - 5000 - 4096, data.freeBytes());
        assertEquals(GROUP - NODESIZE, meta.freeBytes());
        assertEquals(List.of(data, meta), groups.dirty());
        assertEquals(5000 + 4096 + NODESIZE, groups.usedAfterCommit());
        assertNull(groups.find(META_AT + GROUP), "past the last group");
    }

    @Test
    void fullGroups_makeAChunk_andWithoutRoomForOne_noSpace() throws Exception {
        group(DATA_AT, 100 * MIB, GROUP, BlockGroupFlags.DATA);
        List<Long> made = new ArrayList<>();
        groups.setChunkAllocator((bgs, type, minSize) -> {
            if (!made.isEmpty()) return false;
            long at = DATA_AT + GROUP;
            made.add(at);
            group(at, 100 * MIB + GROUP, GROUP, type);
            return true;
        });
        assertEquals(DATA_AT, groups.allocate(BlockGroupFlags.DATA, GROUP - MIB, 4096));
        assertEquals(-1, groups.tryAllocate(BlockGroupFlags.DATA, 2 * MIB, 4096), "tryAllocate makes no chunk");
        assertTrue(made.isEmpty());
        assertEquals(MIB, groups.largestFree(BlockGroupFlags.DATA));
        // 2 MiB fits in no group: the allocator makes one and the extent goes there
        assertEquals(DATA_AT + GROUP, groups.allocate(BlockGroupFlags.DATA, 2 * MIB, 4096));
        assertEquals(List.of(DATA_AT + GROUP), made);
        assertEquals(MIB + GROUP - 2 * MIB, groups.freeBytes(BlockGroupFlags.DATA));
        FsException e = assertErrno(Errno.ENOSPC,
                () -> groups.allocate(BlockGroupFlags.DATA, GROUP, 4096));
        assertEquals("no data space for " + GROUP + " bytes", e.getMessage());
        assertErrno(Errno.ENOSPC, () -> groups.allocateTreeBlock(BlockGroupFlags.METADATA),
                "no metadata group at all");
    }

    @Test
    void freedCommittedSpace_isPinnedUntilTheCommit_uncommittedSpaceReturnsAtOnce() throws Exception {
        BlockGroup data = group(DATA_AT, 100 * MIB, GROUP, BlockGroupFlags.DATA);
        long committed = groups.allocate(BlockGroupFlags.DATA, GROUP / 2, 4096);
        groups.committed();
        assertEquals(List.of(), groups.dirty());
        long fresh = groups.allocate(BlockGroupFlags.DATA, GROUP / 2, 4096);
        // the fresh extent goes back at once; the committed one stays taken until the commit lands
        groups.release(fresh, GROUP / 2);
        groups.pin(committed, GROUP / 2);
        assertEquals(GROUP / 2, data.freeBytes());
        assertEquals(0, groups.usedAfterCommit());
        assertFalse(groups.tryTake(committed, 4096, BlockGroupFlags.DATA), "pinned space is not taken again");
        assertEquals(DATA_AT + GROUP / 2, groups.allocate(BlockGroupFlags.DATA, GROUP / 2, 4096));
        assertEquals(-1, groups.tryAllocate(BlockGroupFlags.DATA, 4096, 4096));
        groups.committed();
        assertEquals(GROUP / 2, data.freeBytes());
        assertTrue(groups.tryTake(committed, GROUP / 2, BlockGroupFlags.DATA));
        assertFalse(groups.tryTake(committed, 4096, BlockGroupFlags.METADATA), "not a group of that type");
    }

    @Test
    void superblockCopy_inAChunk_isNeverHandedOut() throws Exception {
        // the chunk's stripe covers physical 64 MiB, the second superblock copy: its 64 KiB stripe is kept out
        long physical = SuperBlock.MIRROR_OFFSETS[1] - 3 * MIB;
        BlockGroup data = group(DATA_AT, physical, GROUP, BlockGroupFlags.DATA);
        long superAt = DATA_AT + 3 * MIB;
        assertEquals(GROUP - 64 * 1024, data.freeBytes());
        assertEquals(0, data.usedAfterCommit(), "the superblock's stripe is neither free nor used");
        assertEquals(-1, groups.tryAllocate(BlockGroupFlags.DATA, GROUP, 4096));
        long a = groups.allocate(BlockGroupFlags.DATA, 3 * MIB, 4096);
        long b = groups.allocate(BlockGroupFlags.DATA, MIB, 4096);
        assertEquals(DATA_AT, a);
        assertEquals(superAt + 64 * 1024, b, "the extent after 3 MiB skips the superblock's stripe");
        assertFalse(groups.tryTake(superAt, 4096, BlockGroupFlags.DATA));
    }

    @Test
    void alignment_skipsToTheNextMultiple() throws Exception {
        group(DATA_AT, 100 * MIB, GROUP, BlockGroupFlags.DATA);
        assertEquals(DATA_AT, groups.allocate(BlockGroupFlags.DATA, 4096, 4096));
        long aligned = groups.allocate(BlockGroupFlags.DATA, MIB, MIB);
        assertEquals(DATA_AT + MIB, aligned);
        // the gap the alignment left is still free for a smaller alignment
        assertTrue(groups.tryTake(DATA_AT + 4096, MIB - 4096, BlockGroupFlags.DATA));
    }
}
