package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * GET_DEV_STATS through our mount: on a RAID1 set whose second member the kernel found zeroed (its scrub counted
 * the errors and a commit kept them in the device tree), {@code jbtrfs device stats} shows every member's counters
 * as the kernel's {@code btrfs device stats} shows them on the same set.
 */
class DeviceStatsThroughMountTest {
    @TempDir
    Path tmp;

    @Test
    void deviceStatsOfASetTheKernelFoundErrorsOn_asTheKernelShowsThem() throws Exception {
        Prereq.requireFuse();
        Images.requireKernelBtrfs();
        Jbtrfs.requireNativeTransport("the btrfs ioctls (FS_INFO, DEV_INFO, GET_DEV_STATS)");
        Prereq.requireBinary("btrfs", "btrfs-progs");
        List<Path> set = MemberSets.mkfs(tmp, 2, 128, "-d", "raid1", "-m", "raid1");
        MemberSets.withKernelMount(set, tmp, "", k -> Shell.sh("head -c 3000000 /dev/urandom > f && sync", k));
        MemberSets.zeroContents(set.get(1));
        // the kernel's scrub counts the zeroed copies (and repairs them); a commit writes its counters down
        MemberSets.withKernelMount(set, tmp, "", k -> Shell.sh("btrfs scrub start -B . >/dev/null || true; "
                + "touch committed && sync", k));
        String kernel = MemberSets.withKernelMount(set, tmp, "ro", k -> Shell.sh("btrfs device stats .", k));
        assertTrue(kernel.matches("(?s).*\\.corruption_errs +[1-9].*"), "the kernel counted no error: " + kernel);
        Path mnt = Files.createTempDirectory(tmp, "ours");
        String ours;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(set.get(0), mnt, "-o", "device=" + set.get(1))) {
            ours = Shell.sh(Jbtrfs.launcher() + " device stats .", mnt);
        }
        assertEquals(members(kernel), members(ours));
        assertTrue(ours.contains("[" + set.get(1).toAbsolutePath() + "].corruption_errs"), ours);
    }

    /** The output with each member's name (a loop device on the kernel's mount, an image on ours) as PATH. */
    private static String members(String output) {
        return output.replaceAll("\\[[^\\]]+\\]", "[PATH]");
    }
}
