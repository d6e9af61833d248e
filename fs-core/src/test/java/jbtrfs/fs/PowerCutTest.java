package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Images;
import jbtrfs.testing.TreeListing;

/**
 * Power loss at random points of commits: the in-memory device fails the Nth request (the moment the power goes),
 * then keeps, drops or tears each write it had not made durable. Every resulting image must check clean and hold
 * exactly one committed state: the last one whose sync returned, or the one being written.
 * {@code -Djbtrfs.powercuts=1000} runs the long version (CI runs 100).
 */
class PowerCutTest {
    private static final int ROUNDS = 6;

    @TempDir
    Path dir;

    @Test
    void powerCutAnywhereInCommit_imageIsOldOrNewTransaction_checkClean() throws Exception {
        Path base = Images.mkfs(dir, null, 160);
        byte[] image = Files.readAllBytes(base);
        // a clean run: the committed states, and how many requests the whole workload makes
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = PowerCuts.memoryDevice(image);
        int synced = run(clean, states);
        assertEquals(ROUNDS, synced);
        long requests = clean.requestsSubmitted();
        int cuts = Integer.getInteger("jbtrfs.powercuts", 100);
        Random rnd = new Random(42);
        Path cutImage = dir.resolve("cut.img");
        for (int i = 0; i < cuts; i++) {
            long n = 1 + (long) (rnd.nextDouble() * requests);
            long seed = rnd.nextLong();
            MemoryBlockDevice dev = MemoryBlockDevice.create(image, 64, FaultPlan.none().failNth(n), seed,
                    new SimpleMeterRegistry());
            int done = run(dev, null);
            Files.write(cutImage, dev.powerCut(seed));
            String what = "cut " + i + " at request " + n + " of " + requests + " (seed " + seed + ", " + done
                    + " syncs returned)";
            BtrfsCheck.assertClean(cutImage, what);
            Map<String, String> got = PowerCuts.listingWithoutTimes(cutImage);
            // state 0 is the empty image; state k the one after the k-th sync
            PowerCuts.assertDoneOrNext(states, done, got, what + ", the image");
        }
    }

    /** The workload; returns how many syncs returned; records each committed state when {@code states} is given. */
    private static int run(MemoryBlockDevice dev, List<Map<String, String>> states) throws Exception {
        int synced = 0;
        Filesystem fs = PowerCuts.openOrNull(dev);
        if (fs == null) return 0;
        try {
            FsOperations ops = fs.operations();
            if (states != null) states.add(PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
            Random rnd = new Random(7);
            InodeId root = ops.root();
            for (int round = 0; round < ROUNDS; round++) {
                InodeId d = ops.mkdir(root, "round" + round, 0755, 0, 0);
                for (int f = 0; f < 12; f++) {
                    InodeId file = ops.mknod(d, "file" + f, Stat.S_IFREG | 0644, 0, 0, 0);
                    byte[] data = new byte[rnd.nextInt(300_000)];
                    rnd.nextBytes(data);
                    ops.write(file, 0, ByteBuffer.wrap(data));
                }
                if (round > 0) {
                    ops.unlink(ops.lookup(root, "round" + (round - 1)), "file0");
                    InodeId old = ops.lookup(ops.lookup(root, "round" + (round - 1)), "file1");
                    ops.write(old, 1000, ByteBuffer.wrap(new byte[50_000]));
                    ops.truncate(ops.lookup(ops.lookup(root, "round" + (round - 1)), "file2"), 777);
                }
                ops.sync();
                synced++;
                if (states != null) states.add(PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
            }
            fs.close();
        } catch (Exception e) {
            // the power went at this request: nothing more reaches the disk (no unmount, no last commit); what
            // returned before this is what must survive
        }
        return synced;
    }

}
