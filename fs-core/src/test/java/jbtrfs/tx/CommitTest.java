package jbtrfs.tx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.TransactionAbortedException;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.format.RootBackup;
import jbtrfs.format.SuperBlock;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.spacecache.SpaceCacheLoader;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * One commit through {@link TransactionManager#commit(CommitLocks)} on the in-memory device, its requests recorded:
 * the stages in btrfs_commit_transaction's order (the v1 caches under the write lock, then under the read lock the
 * tree blocks, a flush, the superblocks, a flush), what they leave (the next generation, the backup ring turned), and
 * what a failure in a stage does (a failed cache write marks the cache invalid and the commit lands; a failed tree
 * block or superblock write aborts and the image keeps its last commit).
 */
class CommitTest {
    @TempDir
    static Path dir;
    /** A v1 image (no free-space tree) with a data block group big enough for a space cache. */
    private static SparseBytes image;

    @BeforeAll
    static void mkfs() throws Exception {
        image = SparseBytes.readFrom(Images.mkfs(dir, null, 1200, "-R", "^free-space-tree"));
    }

    /** Who held which lock when: each hand-over and how many requests the device had seen then. */
    private static final class RecordingLocks implements CommitLocks {
        final MemoryBlockDevice dev;
        final List<String> events = new ArrayList<>();
        long atDowngrade = -1;
        long atUpgrade = -1;

        RecordingLocks(MemoryBlockDevice dev) {
            this.dev = dev;
        }

        @Override
        public void downgrade() {
            events.add("downgrade");
            atDowngrade = dev.requestsSubmitted();
        }

        @Override
        public void upgrade() {
            events.add("upgrade");
            atUpgrade = dev.requestsSubmitted();
        }
    }

    @Test
    void commit_writesCachesThenTreeBlocksThenSuperblocks_andTurnsTheBackupRing() throws Exception {
        MemoryBlockDevice dev = device(FaultPlan.none());
        Filesystem fs = open(dev);
        workload(fs.operations());
        TransactionManager txm = fs.transactions();
        ByteBuffer before = superBlock(dev);
        long generation = before.getLong(SuperBlock.OFFSET_GENERATION);
        long first = dev.requestsSubmitted();
        RecordingLocks locks = new RecordingLocks(dev);

        TransactionManager.CommitStats stats = txm.commit(locks);

        assertNotNull(stats);
        assertEquals(List.of("downgrade", "upgrade"), locks.events);
        List<MemoryBlockDevice.Submitted> made = dev.submittedRequests();
        // under the write lock: only the cache pages of the dirty block groups, every one reaped before the lock
        // is handed down (the tree blocks that point at them are made after)
        List<MemoryBlockDevice.Submitted> prepare = between(made, first, locks.atDowngrade);
        assertTrue(stats.caches().groups() > 0, "no space cache was written: " + stats.caches());
        assertTrue(prepare.stream().allMatch(r -> r.op() == IoRequest.Op.WRITE), prepare.toString());
        assertEquals(stats.caches().bytes(), prepare.stream().mapToLong(MemoryBlockDevice.Submitted::length).sum());
        assertEquals(Set.of(), stats.caches().failed());
        // under the read lock: the tree blocks, a flush, every superblock copy, a flush
        List<MemoryBlockDevice.Submitted> write = between(made, locks.atDowngrade, locks.atUpgrade);
        int flush = indexOf(write, r -> r.op() == IoRequest.Op.FLUSH);
        List<MemoryBlockDevice.Submitted> blocks = write.subList(0, flush);
        assertTrue(blocks.stream().allMatch(r -> r.op() == IoRequest.Op.WRITE && !isSuperblock(r.offset())),
                blocks.toString());
        assertEquals(stats.writeout().bytes(), blocks.stream().mapToLong(MemoryBlockDevice.Submitted::length).sum());
        List<MemoryBlockDevice.Submitted> supers = write.subList(flush + 1, write.size() - 1);
        assertEquals(List.of(SuperBlock.MIRROR_OFFSETS[0], SuperBlock.MIRROR_OFFSETS[1]),
                supers.stream().map(MemoryBlockDevice.Submitted::offset).sorted().toList());
        assertEquals(IoRequest.Op.FLUSH, write.get(write.size() - 1).op());
        assertEquals(made.size(), locks.atUpgrade, "the finish writes nothing");

        // the next generation, and its roots in the slot after the newest backup; the other slots as they were
        ByteBuffer after = superBlock(dev);
        assertEquals(generation + 1, stats.transid());
        assertEquals(generation + 1, after.getLong(SuperBlock.OFFSET_GENERATION));
        assertEquals(generation + 1, txm.generation());
        int slot = RootBackup.nextSlot(before);
        RootBackup newest = RootBackup.read(after, RootBackup.offsetInSuper(slot));
        assertEquals(new RootBackup.Root(after.getLong(SuperBlock.OFFSET_ROOT), generation + 1,
                after.get(SuperBlock.OFFSET_ROOT_LEVEL)), newest.treeRoot());
        assertEquals(after.getLong(SuperBlock.OFFSET_BYTES_USED), newest.bytesUsed());
        for (int other = 0; other < RootBackup.NUM_BACKUP_ROOTS; other++) {
            if (other == slot) continue;
            assertEquals(RootBackup.read(before, RootBackup.offsetInSuper(other)),
                    RootBackup.read(after, RootBackup.offsetInSuper(other)), "backup slot " + other);
        }
        assertEquals((slot + 1) % RootBackup.NUM_BACKUP_ROOTS, RootBackup.nextSlot(after));
        assertNull(txm.commit(locks), "nothing left to commit");
        fs.close();
        BtrfsCheck.assertClean(imageOf(dev), "after the commit");
    }

    @Test
    void failedCachePageWrite_marksThatCacheInvalid_andTheCommitLands() throws Exception {
        List<MemoryBlockDevice.Submitted> cacheWrite = requestsOfTheCommit(r -> r.op() == IoRequest.Op.WRITE,
                Phase.PREPARE).subList(0, 1);
        MemoryBlockDevice dev = device(FaultPlan.none().failNth(cacheWrite.get(0).seq()));
        Filesystem fs = open(dev);
        workload(fs.operations());
        long generation = fs.transactions().generation();

        TransactionManager.CommitStats stats = fs.transactions().commit(new RecordingLocks(dev));

        assertHit(dev, cacheWrite);
        assertEquals(1, stats.caches().failed().size(), stats.caches().toString());
        assertNull(fs.aborted());
        assertEquals(generation + 1, superBlock(dev).getLong(SuperBlock.OFFSET_GENERATION));
        fs.close();
        // the next mount distrusts that cache (its inode generation is 0) and btrfs check agrees the image is sound
        long group = stats.caches().failed().iterator().next();
        Path file = imageOf(dev);
        try (Filesystem again = Filesystem.open(PowerCuts.memoryDevice(file), MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            SpaceCacheLoader.Result r = again.spaceCachesAtMount().get(group);
            assertNotNull(r, "no cache result for block group " + group);
            assertFalse(r.state() == SpaceCacheLoader.State.VALID, r.toString());
            assertTrue(r.why().contains("marked invalid by its writer"), r.toString());
        }
        BtrfsCheck.assertClean(file, "after a failed cache write");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "the first tree block write, writing the tree blocks",
        "the flush before the superblocks, writing the superblocks",
        "every superblock copy, writing the superblocks",
    })
    void failedWriteout_abortsWithTheWriteLockBack_andTheImageKeepsItsLastCommit(String target, String stage)
            throws Exception {
        Predicate<MemoryBlockDevice.Submitted> pick = switch (target) {
            case "the first tree block write" -> r -> r.op() == IoRequest.Op.WRITE && !isSuperblock(r.offset());
            case "the flush before the superblocks" -> r -> r.op() == IoRequest.Op.FLUSH;
            default -> r -> r.op() == IoRequest.Op.WRITE && isSuperblock(r.offset());
        };
        FaultPlan plan = FaultPlan.none();
        List<MemoryBlockDevice.Submitted> picked = requestsOfTheCommit(pick, Phase.WRITEOUT);
        // every superblock copy fails (one good copy would be a whole commit); otherwise the first such request
        List<MemoryBlockDevice.Submitted> failing = target.startsWith("every") ? picked : picked.subList(0, 1);
        for (MemoryBlockDevice.Submitted r : failing) plan = plan.failNth(r.seq());
        MemoryBlockDevice dev = device(plan);
        Filesystem fs = open(dev);
        workload(fs.operations());
        TransactionManager txm = fs.transactions();
        // the last commit is mkfs' (the workload did not commit); read from the image, not the device, whose
        // request numbers must stay those of the clean run
        byte[] last = new byte[SuperBlock.SIZE];
        image.read(SuperBlock.MIRROR_OFFSETS[0], last, 0, SuperBlock.SIZE);
        long generation = txm.generation();
        RecordingLocks locks = new RecordingLocks(dev);

        TransactionAbortedException e = assertThrows(TransactionAbortedException.class, () -> txm.commit(locks));

        assertHit(dev, failing);
        assertTrue(e.reason().contains(stage), e.reason());
        assertEquals(List.of("downgrade", "upgrade"), locks.events, "the write lock is back before the abort");
        assertEquals(generation + 1, e.transid());
        assertNotNull(txm.aborted());
        assertNull(txm.running(), "the aborted transaction is dropped");
        assertEquals(generation, txm.generation());
        // no superblock on the device names the aborted transaction
        assertEquals(generation, superBlock(dev).getLong(SuperBlock.OFFSET_GENERATION));
        assertArrayEquals(last, dev.readBytes(SuperBlock.MIRROR_OFFSETS[0], SuperBlock.SIZE));
        assertThrows(TransactionAbortedException.class, fs::close);
        BtrfsCheck.assertClean(imageOf(dev), "after the abort at " + target);
    }

    /** Where a request of the clean run's commit falls: the prepare (write lock) or the writeout (read lock). */
    private enum Phase { PREPARE, WRITEOUT }

    /**
     * The requests of a clean run's commit that {@code pick} picks in {@code phase}, in order (the runs make the
     * same requests, so a fault plan can name them; {@link #assertHit} checks that it did).
     */
    private static List<MemoryBlockDevice.Submitted> requestsOfTheCommit(Predicate<MemoryBlockDevice.Submitted> pick,
                                                                         Phase phase) throws Exception {
        MemoryBlockDevice dev = device(FaultPlan.none());
        Filesystem fs = open(dev);
        workload(fs.operations());
        long first = dev.requestsSubmitted();
        RecordingLocks locks = new RecordingLocks(dev);
        fs.transactions().commit(locks);
        List<MemoryBlockDevice.Submitted> made = dev.submittedRequests();
        List<MemoryBlockDevice.Submitted> out = new ArrayList<>();
        for (MemoryBlockDevice.Submitted r : switch (phase) {
            case PREPARE -> between(made, first, locks.atDowngrade);
            case WRITEOUT -> between(made, locks.atDowngrade, locks.atUpgrade);
        }) {
            if (pick.test(r)) out.add(r);
        }
        fs.close();
        assertFalse(out.isEmpty(), "the run made no such request in its " + phase);
        return out;
    }

    /** The faulty run made the same requests as the clean one: the faults hit the requests they were meant for. */
    private static void assertHit(MemoryBlockDevice dev, List<MemoryBlockDevice.Submitted> targets) {
        List<MemoryBlockDevice.Submitted> made = dev.submittedRequests();
        for (MemoryBlockDevice.Submitted r : targets) assertEquals(r, made.get((int) r.seq() - 1));
    }

    /**
     * Files in a new directory, 12 MiB or so: more than mkfs' 8 MiB data block group holds, so a new one of 120 MiB
     * is made, big enough for a space cache; the commit touches the fs, extent, csum, chunk, dev and root trees.
     */
    private static void workload(FsOperations ops) throws Exception {
        Random rnd = new Random(21);
        InodeId d = ops.mkdir(ops.root(), "d", 0755, 0, 0);
        for (int i = 0; i < 6; i++) {
            byte[] data = new byte[(3 << 19) + rnd.nextInt(1 << 20)];
            rnd.nextBytes(data);
            ops.write(ops.mknod(d, "f" + i, Stat.S_IFREG | 0644, 0, 0, 0), 0, ByteBuffer.wrap(data));
        }
    }

    private static MemoryBlockDevice device(FaultPlan plan) {
        return MemoryBlockDevice.create(image, 64, plan, 1, new SimpleMeterRegistry()).recordRequests();
    }

    private static Filesystem open(MemoryBlockDevice dev) throws Exception {
        return Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
    }

    /** Requests numbered in {@code (after, upTo]}. */
    private static List<MemoryBlockDevice.Submitted> between(List<MemoryBlockDevice.Submitted> made, long after,
                                                             long upTo) {
        return made.stream().filter(r -> r.seq() > after && r.seq() <= upTo).toList();
    }

    private static int indexOf(List<MemoryBlockDevice.Submitted> made, Predicate<MemoryBlockDevice.Submitted> p) {
        for (int i = 0; i < made.size(); i++) {
            if (p.test(made.get(i))) return i;
        }
        throw new AssertionError("no such request in " + made);
    }

    private static boolean isSuperblock(long offset) {
        return offset == SuperBlock.MIRROR_OFFSETS[0] || offset == SuperBlock.MIRROR_OFFSETS[1];
    }

    private static ByteBuffer superBlock(MemoryBlockDevice dev) throws Exception {
        return ByteBuffer.wrap(dev.readBytes(SuperBlock.MIRROR_OFFSETS[0], SuperBlock.SIZE))
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /** What the medium holds (after a completed commit's flush, every write is durable). */
    private static Path imageOf(MemoryBlockDevice dev) throws Exception {
        Path file = Files.createTempFile(dir, "committed", ".img");
        dev.powerCutTo(file, 0);
        return file;
    }
}
