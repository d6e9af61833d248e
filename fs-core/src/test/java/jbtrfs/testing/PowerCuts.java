package jbtrfs.testing;

import java.util.Map;
import java.util.TreeMap;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;

/** What the power-cut tests share: opening a device that may already be dead, and listings that ignore times. */
public final class PowerCuts {
    private PowerCuts() {
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
}
