package jbtrfs.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.DeviceOptions;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the power-cut tests share: an in-memory device over an image, opening a device that may already be dead, and
 * listings that ignore times, and the check that a cut left one committed state.
 */
public final class PowerCuts {
    private PowerCuts() {
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
}
