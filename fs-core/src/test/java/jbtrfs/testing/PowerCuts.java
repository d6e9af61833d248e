package jbtrfs.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.DeviceOptions;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the power-cut tests share: an in-memory device over an image, opening a device that may already be dead, a
 * workload of synced rounds, listings that ignore times, and the check that a cut left one committed state.
 */
public final class PowerCuts {
    private PowerCuts() {
    }

    /**
     * The commit power-cut workload: each of {@code rounds} rounds makes a directory of {@code files} files of up to
     * {@code maxBytes} random bytes (the same bytes every run) and syncs; from the second round on the previous
     * round's file0 goes and, with {@code changeOlder}, its file1 is overwritten in part and its file2 truncated.
     */
    public record Rounds(int rounds, int files, int maxBytes, boolean changeOlder) {
        /**
         * Runs the rounds on {@code fs} (null when the power went before the open finished); returns how many syncs
         * returned, recording each committed state without times in {@code states} when it is given. The first
         * failure is the power going: nothing more reaches the disk (no unmount, no last commit).
         */
        public int run(Filesystem fs, List<Map<String, String>> states) {
            if (fs == null) return 0;
            int synced = 0;
            try {
                FsOperations ops = fs.operations();
                if (states != null) states.add(withoutTimes(TreeListing.ofOperations(ops)));
                Random rnd = new Random(7);
                InodeId root = ops.root();
                for (int round = 0; round < rounds; round++) {
                    InodeId d = ops.mkdir(root, "round" + round, 0755, 0, 0);
                    for (int f = 0; f < files; f++) {
                        InodeId file = ops.mknod(d, "file" + f, Stat.S_IFREG | 0644, 0, 0, 0);
                        byte[] data = new byte[rnd.nextInt(maxBytes)];
                        rnd.nextBytes(data);
                        ops.write(file, 0, ByteBuffer.wrap(data));
                    }
                    if (round > 0) changePrevious(ops, ops.lookup(root, "round" + (round - 1)));
                    ops.sync();
                    synced++;
                    if (states != null) states.add(withoutTimes(TreeListing.ofOperations(ops)));
                }
                fs.close();
            } catch (Exception e) {
                // what returned before the failed request is what must survive
            }
            return synced;
        }

        private void changePrevious(FsOperations ops, InodeId previous) throws Exception {
            ops.unlink(previous, "file0");
            if (!changeOlder) return;
            ops.write(ops.lookup(previous, "file1"), 1000, ByteBuffer.wrap(new byte[50_000]));
            ops.truncate(ops.lookup(previous, "file2"), 777);
        }
    }

    /** A memory device over a copy of {@code image}, with no faults planned and meters of its own. */
    public static MemoryBlockDevice memoryDevice(byte[] image) {
        return MemoryBlockDevice.create(image, DeviceOptions.DEFAULT_QUEUE_DEPTH, FaultPlan.none(), 1, new SimpleMeterRegistry());
    }

    /** A memory device over the image file's bytes, with no faults planned and meters of its own. */
    public static MemoryBlockDevice memoryDevice(Path image) throws IOException {
        return MemoryBlockDevice.create(image, DeviceOptions.DEFAULT_QUEUE_DEPTH, FaultPlan.none(), 1, new SimpleMeterRegistry());
    }

    /** A memory device over {@code image}, with no faults planned and meters of its own. */
    public static MemoryBlockDevice memoryDevice(SparseBytes image) {
        return MemoryBlockDevice.create(image, DeviceOptions.DEFAULT_QUEUE_DEPTH, FaultPlan.none(), 1, new SimpleMeterRegistry());
    }

    /** A read-write open without the timer commit, or null when the power went before it could finish. */
    public static Filesystem openOrNull(MemoryBlockDevice dev) {
        try {
            return Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
        } catch (Exception e) {
            return null;
        }
    }

    /** Times differ between runs of the same workload; everything else must match. */
    public static Map<String, String> withoutTimes(Map<String, String> listing) {
        Map<String, String> out = new TreeMap<>();
        listing.forEach((k, v) -> out.put(k, v.replaceAll(" [mc]time=\\d+", "")));
        return out;
    }

    /** The listing, without times, of the image file a cut left (opened read-only). */
    public static Map<String, String> listingWithoutTimes(Path image) throws Exception {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            return withoutTimes(TreeListing.ofOperations(fs.operations()));
        }
    }

    /**
     * Asserts that {@code got} is state {@code done} (the last whose sync returned) or the next one (the one being
     * written when the power went); {@code what} names the cut.
     */
    public static void assertDoneOrNext(List<Map<String, String>> states, int done, Map<String, String> got,
                                        String what) {
        boolean matches = got.equals(states.get(done)) || (done + 1 < states.size()
                && got.equals(states.get(done + 1)));
        assertTrue(matches, what + ": neither state " + done + " nor " + (done + 1) + ": "
                + TreeListing.differences(states.get(done), got, 5));
    }

    /**
     * Cuts the power of {@code dev} now (tearing as {@code seed} says) into cut.img in {@code dir}, which must hold a
     * log; our replay of a copy and the kernel's replay of the cut each show {@code want} (file name to its bytes in
     * the top directory) and check clean.
     */
    public static void assertReplaysShow(MemoryBlockDevice dev, long seed, Path dir, Map<String, byte[]> want)
            throws Exception {
        Path cut = dir.resolve("cut.img");
        dev.powerCutTo(cut, seed);
        assertNotEquals(0L, CrashImages.logRoot(cut), "the fsyncs after the last commit left no log");
        Path ours = dir.resolve("ours.img");
        Files.copy(cut, ours);
        try (Filesystem replayed = Filesystem.open(ours, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations r = replayed.operations();
            for (Map.Entry<String, byte[]> e : want.entrySet()) {
                InodeId id = r.resolve("/" + e.getKey());
                byte[] got = new byte[(int) r.stat(id).size()];
                if (got.length > 0) r.read(id, 0, ByteBuffer.wrap(got));
                assertArrayEquals(e.getValue(), got, e.getKey() + " after our replay");
            }
        }
        BtrfsCheck.assertCleanWithData(ours, "after our replay");
        Path mnt = Files.createTempDirectory(dir, "kernel");
        Images.withKernelMount(cut, mnt, "", () -> {
            for (Map.Entry<String, byte[]> e : want.entrySet()) {
                assertArrayEquals(e.getValue(), Files.readAllBytes(mnt.resolve(e.getKey())),
                        e.getKey() + " after the kernel's replay of our log");
            }
            return null;
        });
        BtrfsCheck.assertCleanWithData(cut, "after the kernel's replay of our log");
    }
}
