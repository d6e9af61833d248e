package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** A 4 GiB copy through the mount with default settings keeps the daemon under 1 GiB resident. */
class MemoryBoundTest {
    @TempDir
    Path dir;

    @Test
    void fourGibCopy_daemonStaysUnderOneGib() throws Exception {
        Prereq.requireFuse();
        Path image = Images.mkfs(dir, null, 6 * 1024);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        long peakKib;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            String pid = Shell.sh("pgrep -f '[j]btrfs.jar mount (-f|--detached) .*" + mnt + "' | sed -n 1p").trim();
            Shell.sh("head -c 4G /dev/urandom | dd of=" + mnt + "/big bs=1M iflag=fullblock conv=fsync status=none");
            assertEquals(4L << 30, Files.size(mnt.resolve("big")));
            // VmHWM: the most the daemon ever had resident
            peakKib = Long.parseLong(Shell.sh("awk '/VmHWM/ {print $2}' /proc/" + pid + "/status").trim());
        }
        System.out.println("4 GiB copy: daemon peak RSS " + (peakKib >> 10) + " MiB");
        assertTrue(peakKib < (1L << 20), "peak RSS " + (peakKib >> 10) + " MiB");
        BtrfsCheck.assertClean(image, "after the 4 GiB copy");
    }
}
