package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Power cuts (the in-memory device fails the Nth request, then keeps, drops or tears what was not durable) while a
 * subvolume is dropped step by step and while snapshots are made: the image is at a commit and checks clean, and
 * a drop cut short finishes at the next mount. {@code -Djbtrfs.subvolumePowercuts=N} runs more cuts (default 10).
 */
class SubvolumePowerCutTest {
    private static final int CUTS = Integer.getInteger("jbtrfs.subvolumePowercuts", 10);

    @TempDir
    Path dir;

    @Test
    void powerCutDuringDrop_imageAtACommit_dropFinishesAtNextMount() throws Exception {
        byte[] image = Files.readAllBytes(subvolumeAndSnapshot());
        MemoryBlockDevice clean = device(image, FaultPlan.none(), 1);
        assertEquals(2, deleteBoth(clean));
        cutAnywhere(image, clean.requestsSubmitted(), 18, SubvolumePowerCutTest::deleteBoth, (cut, what, deleted) -> {
            try (Filesystem fs = Filesystem.open(cut, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
                WritableOperations ops = (WritableOperations) fs.operations();
                ops.awaitCleaner();
                byte[] keep = new byte[5];
                ops.read(ops.resolve("/keep"), 0, ByteBuffer.wrap(keep));
                assertEquals("kept\n", new String(keep), what);
                // what a returned delete removed stays removed
                if (deleted >= 1) assertFalse(names(ops).contains("snap"), what);
                if (deleted == 2) assertFalse(names(ops).contains("sv"), what);
            }
            BtrfsCheck.assertClean(cut, what + ", after the next mount");
            String roots = Shell.sh("btrfs inspect-internal dump-tree -t root " + cut);
            assertFalse(roots.contains("ORPHAN ORPHAN_ITEM"), what + ": a dead root is left\n" + roots);
        });
    }

    @Test
    void powerCutDuringSnapshots_imageIsOneCommittedState_checkClean() throws Exception {
        byte[] image = Files.readAllBytes(subvolumeAndSnapshot());
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = device(image, FaultPlan.none(), 1);
        assertEquals(3, snapshots(clean, states));
        cutAnywhere(image, clean.requestsSubmitted(), 24, dev -> snapshots(dev, null), (cut, what, done) -> {
            Map<String, String> got = PowerCuts.listingWithoutTimes(cut);
            PowerCuts.assertDoneOrNext(states, done, got, what);
        });
    }

    /** A workload on a device that may lose power; returns how many of its steps returned. */
    private interface Workload {
        int run(MemoryBlockDevice dev);
    }

    /** What a cut image must be, beyond checking clean. */
    private interface Verdict {
        void check(Path cut, String what, int done) throws Exception;
    }

    /**
     * Runs {@code workload} {@link #CUTS} times, the power going at a random one of its {@code requests} requests,
     * and checks each image left: btrfs check clean, then {@code verdict}.
     */
    private void cutAnywhere(byte[] image, long requests, long seed, Workload workload, Verdict verdict)
            throws Exception {
        Random rnd = new Random(seed);
        Path cut = dir.resolve("cut.img");
        for (int i = 0; i < CUTS; i++) {
            long n = 1 + (long) (rnd.nextDouble() * requests);
            long devSeed = rnd.nextLong();
            MemoryBlockDevice dev = device(image, FaultPlan.none().failNth(n), devSeed);
            int done = workload.run(dev);
            Files.write(cut, dev.powerCut(devSeed));
            String what = "cut " + i + " at request " + n + " of " + requests + " (seed " + devSeed + ", " + done
                    + " steps returned)";
            BtrfsCheck.assertClean(cut, what);
            verdict.check(cut, what, done);
        }
    }

    /** An image with subvolume sv (a tree of several levels at 4 KiB nodes), its snapshot, both changed since. */
    private Path subvolumeAndSnapshot() throws Exception {
        Path base = Images.mkfs(dir, null, 160, "-n", "4096");
        try (Filesystem fs = Filesystem.open(base, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId top = ops.root();
            InodeId keep = ops.mknod(top, "keep", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(keep, 0, ByteBuffer.wrap("kept\n".getBytes()));
            long sv = ops.createSubvolume(top, "sv", SubvolumeOperationsTest.ROOT);
            SubvolumeOperationsTest.fill(ops, ops.mkdir(ops.lookup(top, "sv"), "d", 0755, 0, 0), 400, new Random(3));
            ops.snapshot(sv, top, "snap", false, SubvolumeOperationsTest.ROOT);
            for (String side : List.of("/sv/d", "/snap/d")) {
                InodeId d = ops.resolve(side);
                for (int i = 0; i < 400; i += 9) ops.unlink(d, "f" + i);
                for (int i = 1; i < 400; i += 13) {
                    if (i % 9 != 0) ops.write(ops.lookup(d, "f" + i), 0, ByteBuffer.wrap(new byte[5000]));
                }
            }
        }
        return base;
    }

    /** Deletes snap, then sv, each dropped in steps of a few blocks; returns how many deletes returned. */
    private static int deleteBoth(MemoryBlockDevice dev) {
        Filesystem fs = PowerCuts.openOrNull(dev);
        if (fs == null) return 0;
        int deleted = 0;
        try {
            WritableOperations ops = (WritableOperations) fs.operations();
            ops.setCleanerBudget(6);
            for (String name : List.of("snap", "sv")) {
                ops.deleteSubvolume(ops.root(), name, SubvolumeOperationsTest.ROOT);
                deleted++;
                ops.awaitCleaner();
            }
            fs.close();
        } catch (Exception e) {
            // the power went: nothing more reaches the disk
        }
        return deleted;
    }

    /** A snapshot, a write into it, a read-only snapshot of that, each committed; returns how many returned. */
    private static int snapshots(MemoryBlockDevice dev, List<Map<String, String>> states) {
        Filesystem fs = PowerCuts.openOrNull(dev);
        if (fs == null) return 0;
        int done = 0;
        try {
            FsOperations ops = fs.operations();
            if (states != null) states.add(PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
            InodeId top = ops.root();
            long s1 = ops.snapshot(ops.lookup(top, "sv").root(), top, "s1", false, SubvolumeOperationsTest.ROOT);
            done = step(ops, states, done);
            ops.write(ops.resolve("/s1/d/f1"), 0, ByteBuffer.wrap(new byte[9000]));
            ops.unlink(ops.resolve("/s1/d"), "f2");
            ops.sync();
            done = step(ops, states, done);
            ops.snapshot(s1, top, "s2", true, SubvolumeOperationsTest.ROOT);
            done = step(ops, states, done);
            fs.close();
        } catch (Exception e) {
            // the power went: nothing more reaches the disk
        }
        return done;
    }

    private static int step(FsOperations ops, List<Map<String, String>> states, int done) throws Exception {
        if (states != null) states.add(PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
        return done + 1;
    }

    private static List<String> names(FsOperations ops) throws Exception {
        return ops.readdir(ops.root(), 0, 100).stream().map(DirEntry::name).toList();
    }

    private static MemoryBlockDevice device(byte[] image, FaultPlan plan, long seed) {
        return MemoryBlockDevice.create(image, 64, plan, seed, new SimpleMeterRegistry());
    }
}
