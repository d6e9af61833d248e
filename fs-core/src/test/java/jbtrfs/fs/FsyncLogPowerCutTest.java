package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.TreeListing;

/**
 * Power loss at random points of fsyncs that write our log (and of a commit between them that drops it): the
 * in-memory device fails the Nth request, then keeps, drops or tears each write not yet durable. The kernel must
 * mount every resulting image, replay whatever log it names and show each file as of the last fsync that returned
 * or the one in flight; btrfs check must be clean after that replay. {@code -Djbtrfs.powercuts=1000} runs the long
 * version (CI runs 100).
 */
class FsyncLogPowerCutTest {
    private static final int FILES = 4;
    private static final int STEPS = 14;
    /** The step before which a full commit runs (and drops the log written so far). */
    private static final int COMMIT_AT = 7;

    @TempDir
    Path dir;

    @Test
    void powerCutAnywhereInFsyncs_kernelReplayShowsLastOrInFlightFsync_checkClean() throws Exception {
        Images.requireKernelBtrfs();
        byte[] image = Files.readAllBytes(Images.mkfs(dir, null, 128));
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = PowerCuts.memoryDevice(image);
        long[] firstCommitDone = new long[1];
        assertEquals(STEPS, run(clean, states, firstCommitDone));
        long requests = clean.requestsSubmitted();
        int cuts = Integer.getInteger("jbtrfs.powercuts", 100);
        Random rnd = new Random(1919);
        Path cutImage = dir.resolve("cut.img");
        Path mnt = Files.createTempDirectory(dir, "kernel");
        for (int i = 0; i < cuts; i++) {
            // cuts fall after the first commit: the files exist, and every later request is an fsync's or a commit's
            long n = firstCommitDone[0] + 1 + (long) (rnd.nextDouble() * (requests - firstCommitDone[0]));
            long seed = rnd.nextLong();
            MemoryBlockDevice dev = MemoryBlockDevice.create(image, 64, FaultPlan.none().failNth(n), seed,
                    new SimpleMeterRegistry());
            int done = run(dev, null, new long[1]);
            dev.powerCutTo(cutImage, seed);
            String what = "cut " + i + " at request " + n + " of " + requests + " (seed " + seed + ", " + done
                    + " steps returned)";
            Map<String, String> got = Images.withKernelMount(cutImage, mnt, "", () -> contents(mnt));
            PowerCuts.assertDoneOrNext(states, done, got, what + ", the kernel's replay");
            BtrfsCheck.assertCleanWithData(cutImage, what + ", after the kernel's replay");
        }
    }

    /**
     * The workload: files written and committed, then one change and an fsync per step, with a commit before step
     * {@link #COMMIT_AT}. Returns how many steps returned; records the files' contents after the commit and after
     * each step when {@code states} is given, and the requests the first commit took in {@code firstCommitDone}.
     */
    private static int run(MemoryBlockDevice dev, List<Map<String, String>> states, long[] firstCommitDone) {
        int steps = 0;
        Filesystem fs = PowerCuts.openOrNull(dev);
        if (fs == null) return 0;
        try {
            FsOperations ops = fs.operations();
            Random rnd = new Random(7);
            InodeId root = ops.root();
            List<InodeId> files = new ArrayList<>();
            for (int f = 0; f < FILES; f++) {
                InodeId file = ops.mknod(root, "f" + f, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(file, 0, ByteBuffer.wrap(bytes(rnd, 50_000 + rnd.nextInt(100_000))));
                files.add(file);
            }
            ops.sync();
            firstCommitDone[0] = dev.requestsSubmitted();
            if (states != null) states.add(contents(ops, files));
            for (int step = 0; step < STEPS; step++) {
                if (step == COMMIT_AT) ops.sync();
                InodeId f = files.get(rnd.nextInt(FILES));
                long size = ops.stat(f).size();
                switch (rnd.nextInt(4)) {
                    case 0 -> ops.write(f, size, ByteBuffer.wrap(bytes(rnd, 1 + rnd.nextInt(30_000))));
                    case 1 -> ops.write(f, rnd.nextInt((int) size + 1), ByteBuffer.wrap(bytes(rnd, 20_000)));
                    case 2 -> ops.truncate(f, size / 2 + 1);
                    default -> ops.fallocate(f, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE,
                            size / 3, 12_288);
                }
                ops.fsync(f, rnd.nextBoolean());
                steps++;
                if (states != null) states.add(contents(ops, files));
            }
        } catch (Exception e) {
            // the power went at this request: what returned before it is what must survive
        }
        return steps;
    }

    private static Map<String, String> contents(FsOperations ops, List<InodeId> files) throws Exception {
        Map<String, String> out = new TreeMap<>();
        for (int f = 0; f < files.size(); f++) {
            byte[] b = new byte[(int) ops.stat(files.get(f)).size()];
            if (b.length > 0) ops.read(files.get(f), 0, ByteBuffer.wrap(b));
            out.put("f" + f, TreeListing.sha256(b));
        }
        return out;
    }

    private static Map<String, String> contents(Path mnt) throws Exception {
        Map<String, String> out = new TreeMap<>();
        for (int f = 0; f < FILES; f++) out.put("f" + f, TreeListing.sha256(Files.readAllBytes(mnt.resolve("f" + f))));
        return out;
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}
