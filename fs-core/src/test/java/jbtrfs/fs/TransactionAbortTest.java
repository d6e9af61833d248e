package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeBlockPatch;
import jbtrfs.testing.TreeListing;

/**
 * A commit that fails aborts the transaction, as btrfs_abort_transaction does: an EIO injected into one of its
 * writes (a tree block, the barrier before the superblocks, the superblocks) or a damaged item met while settling
 * the back references. Afterwards every change is EROFS, every fsync EIO, the close reports the loss, and the image
 * is exactly the last commit, which {@code btrfs check} finds clean.
 */
class TransactionAbortTest {
    private static final long[] SUPERBLOCKS = {64L << 10, 64L << 20};

    @TempDir
    Path dir;

    /** The image after the first workload's commit, and what it holds. */
    private byte[] committed;
    private Map<String, String> committedListing;
    private long committedGeneration;
    /** The damaged image the abort must leave as it was (btrfs check says the same of both), or null. */
    private Path damaged;

    @BeforeEach
    void firstCommit() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        MemoryBlockDevice dev = PowerCuts.memoryDevice(image);
        Filesystem fs = PowerCuts.openOrNull(dev);
        assertNotNull(fs);
        FsOperations ops = fs.operations();
        InodeId a = ops.mkdir(ops.root(), "a", 0755, 0, 0);
        Random rnd = new Random(3);
        for (int i = 0; i < 8; i++) {
            write(ops, ops.mknod(a, "f" + i, Stat.S_IFREG | 0644, 0, 0, 0), 0, 5000 + rnd.nextInt(90_000));
        }
        // preallocated: its reads are zeros that never touch the device, so the listings still read it once damaged
        ops.fallocate(ops.mknod(ops.root(), "victim", Stat.S_IFREG | 0644, 0, 0, 0), 0, 0, 8192);
        fs.close();
        committed = dev.snapshot();
        committedListing = listing(committed);
        committedGeneration = generation(committed);
    }

    @Test
    void eioOnATreeBlockWrite_aborts() throws Exception {
        // the commit's first write is a tree block: file data went out when written, the superblocks come last
        assertAborts(r -> r.op() == IoRequest.Op.WRITE, "writing the tree blocks");
    }

    @Test
    void eioOnTheFlushBeforeTheSuperblocks_aborts() throws Exception {
        assertAborts(r -> r.op() == IoRequest.Op.FLUSH, "writing the superblocks");
    }

    @Test
    void eioOnTheSuperblockWrites_aborts() throws Exception {
        assertAborts(r -> r.op() == IoRequest.Op.WRITE && isSuperblock(r.offset()), "writing the superblocks");
    }

    @Test
    void aDamagedFileExtentMetWhileSettlingTheBackReferences_aborts() throws Exception {
        // as btrfs-progs' fsck-tests/001-bad-file-extent-bytenr: the file's extent points where no extent item is,
        // so dropping its reference at the commit finds nothing to drop
        Path image = dir.resolve("damaged.img");
        Files.write(image, committed);
        long ino = ImageDamage.inodeOf(image, "victim");
        int nodesize = SuperBlock.decode(ByteBuffer.wrap(committed, (int) SUPERBLOCKS[0], SuperBlock.SIZE).slice()
                .order(ByteOrder.LITTLE_ENDIAN)).nodesize();
        TreeBlockPatch.patchItem(image, 5, ino, "EXTENT_DATA", 0, nodesize,
                (leaf, at) -> leaf.putLong(at + 21, 1L << 40));
        committed = Files.readAllBytes(image);
        committedListing = listing(committed);
        damaged = image;

        MemoryBlockDevice dev = PowerCuts.memoryDevice(committed);
        Filesystem fs = PowerCuts.openOrNull(dev);
        assertNotNull(fs);
        FsOperations ops = fs.operations();
        ops.unlink(ops.root(), "victim"); // the change itself succeeds: the extent tree is settled at the commit
        write(ops, ops.mknod(ops.root(), "after", Stat.S_IFREG | 0644, 0, 0, 0), 0, 20_000);
        TransactionAbortedException e = assertThrows(TransactionAbortedException.class, ops::sync);
        assertTrue(e.reason().contains("settling the trees"), e.getMessage());
        assertAbortedThen(fs, dev);
    }

    /** Runs the second workload twice: once to find the request {@code target} picks, once failing it. */
    private void assertAborts(Predicate<MemoryBlockDevice.Submitted> target, String stage) throws Exception {
        MemoryBlockDevice clean = PowerCuts.memoryDevice(committed)
                .recordRequests();
        Filesystem fs = PowerCuts.openOrNull(clean);
        assertNotNull(fs);
        secondWorkload(fs.operations());
        long before = clean.requestsSubmitted();
        fs.operations().sync();
        fs.close();
        List<MemoryBlockDevice.Submitted> failing = new ArrayList<>();
        for (MemoryBlockDevice.Submitted r : clean.submittedRequests()) {
            if (r.seq() > before && target.test(r)) failing.add(r);
        }
        assertTrue(!failing.isEmpty(), "the commit made no such request");
        // the superblocks: every copy fails (one good copy would be a whole commit); otherwise the first such request
        if (!isSuperblock(failing.get(0).offset()) || failing.get(0).op() != IoRequest.Op.WRITE) {
            failing = failing.subList(0, 1);
        }
        FaultPlan plan = FaultPlan.none();
        for (MemoryBlockDevice.Submitted r : failing) plan = plan.failNth(r.seq());

        MemoryBlockDevice dev = MemoryBlockDevice.create(committed, 64, plan, 1, new SimpleMeterRegistry())
                .recordRequests();
        fs = PowerCuts.openOrNull(dev);
        assertNotNull(fs);
        secondWorkload(fs.operations());
        TransactionAbortedException e = assertThrows(TransactionAbortedException.class, fs.operations()::sync);
        // the same workload made the same requests: the fault hit what it was meant to
        List<MemoryBlockDevice.Submitted> made = dev.submittedRequests();
        for (MemoryBlockDevice.Submitted r : failing) assertEquals(r, made.get((int) r.seq() - 1));
        assertTrue(e.reason().contains(stage), e.getMessage());
        assertAbortedThen(fs, dev);
    }

    /** After the abort: EROFS for changes, EIO for fsync and close, the image exactly the last commit, check clean. */
    private void assertAbortedThen(Filesystem fs, MemoryBlockDevice dev) throws Exception {
        FsOperations ops = fs.operations();
        TransactionAbortedException abort = fs.aborted();
        assertNotNull(abort);
        assertEquals(committedGeneration + 1, abort.transid());
        assertEquals(committedGeneration, abort.committedGeneration());
        assertTrue(fs.readOnly());
        InodeId f0 = ops.lookup(ops.lookup(ops.root(), "a"), "f0");
        assertEquals(FsException.class, assertErrno(Errno.EROFS,
                () -> ops.mkdir(ops.root(), "later", 0755, 0, 0)).getClass());
        assertEquals(FsException.class, assertErrno(Errno.EROFS,
                () -> ops.write(f0, 0, ByteBuffer.wrap(new byte[100]))).getClass());
        assertEquals(FsException.class, assertErrno(Errno.EROFS,
                () -> ops.unlink(ops.root(), "victim")).getClass());
        assertThrows(TransactionAbortedException.class, () -> ops.fsync(f0, false));
        assertThrows(TransactionAbortedException.class, () -> ops.fsync(f0, true));
        assertThrows(TransactionAbortedException.class, ops::sync);
        // what the mount shows now is the last commit, as the image
        assertEquals(committedListing, PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
        TransactionAbortedException atClose = assertThrows(TransactionAbortedException.class, fs::close);
        assertEquals(abort.transid(), atClose.transid());

        byte[] after = dev.snapshot();
        assertEquals(committedGeneration, generation(after));
        assertEquals(committedListing, listing(after));
        Path file = dir.resolve("after-abort.img");
        Files.write(file, after);
        if (damaged == null) {
            BtrfsCheck.assertClean(file, "the image after the abort");
        } else {
            assertEquals(check(damaged), check(file), "btrfs check: the abort must leave the damage as it was");
        }
    }

    /** New files, an unlink, an overwrite and a truncate: a commit that touches every kind of tree. */
    private static void secondWorkload(FsOperations ops) throws Exception {
        InodeId b = ops.mkdir(ops.root(), "b", 0755, 0, 0);
        for (int i = 0; i < 4; i++) write(ops, ops.mknod(b, "g" + i, Stat.S_IFREG | 0644, 0, 0, 0), 0, 70_000);
        InodeId a = ops.lookup(ops.root(), "a");
        ops.unlink(a, "f3");
        write(ops, ops.lookup(a, "f1"), 1000, 30_000);
        ops.truncate(ops.lookup(a, "f2"), 777);
    }

    private static void write(FsOperations ops, InodeId file, long offset, int length) throws Exception {
        byte[] data = new byte[length];
        new Random(offset * 31 + length).nextBytes(data);
        ops.write(file, offset, ByteBuffer.wrap(data));
    }

    /** What btrfs check says of an image, without the line naming its file. */
    private static String check(Path image) throws Exception {
        Shell.Result r = Shell.attempt(List.of("btrfs", "check", "--readonly", image.toString()));
        return r.exitCode() + "\n" + r.output().replaceAll("(?m)^Checking filesystem on .*$", "");
    }

    private static boolean isSuperblock(long offset) {
        return offset == SUPERBLOCKS[0] || offset == SUPERBLOCKS[1];
    }

    private Map<String, String> listing(byte[] image) throws Exception {
        Path file = Files.createTempFile(dir, "listing", ".img");
        Files.write(file, image);
        try (Filesystem fs = Filesystem.open(file, MountOptions.readOnlyDefaults())) {
            return PowerCuts.withoutTimes(TreeListing.ofOperations(fs.operations()));
        } finally {
            Files.delete(file);
        }
    }

    private static long generation(byte[] image) {
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN)
                .getLong((int) SUPERBLOCKS[0] + SuperBlock.OFFSET_GENERATION);
    }
}
