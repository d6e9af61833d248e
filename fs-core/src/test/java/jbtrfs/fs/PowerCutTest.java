package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

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

/**
 * Power loss at random points of commits: the in-memory device fails the Nth request (the moment the power goes),
 * then keeps, drops or tears each write it had not made durable. Every resulting image must check clean and hold
 * exactly one committed state: the last one whose sync returned, or the one being written.
 * {@code -Djbtrfs.powercuts=1000} runs the long version (CI runs 100).
 */
class PowerCutTest {
    private static final int ROUNDS = 6;
    private static final PowerCuts.Rounds WORKLOAD = new PowerCuts.Rounds(ROUNDS, 12, 300_000, true);

    @TempDir
    Path dir;

    @Test
    void powerCutAnywhereInCommit_imageIsOldOrNewTransaction_checkClean() throws Exception {
        Path base = Images.mkfs(dir, null, 160);
        byte[] image = Files.readAllBytes(base);
        // a clean run: the committed states, and how many requests the whole workload makes
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = PowerCuts.memoryDevice(image);
        int synced = WORKLOAD.run(PowerCuts.openOrNull(clean), states);
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
            int done = WORKLOAD.run(PowerCuts.openOrNull(dev), null);
            Files.write(cutImage, dev.powerCut(seed));
            String what = "cut " + i + " at request " + n + " of " + requests + " (seed " + seed + ", " + done
                    + " syncs returned)";
            BtrfsCheck.assertClean(cutImage, what);
            Map<String, String> got = PowerCuts.listingWithoutTimes(cutImage);
            // state 0 is the empty image; state k the one after the k-th sync
            PowerCuts.assertDoneOrNext(states, done, got, what + ", the image");
        }
    }
}
