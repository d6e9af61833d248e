package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Raises the FUSE mount's readahead. The kernel's default window is 128 KiB, so a sequential reader got 128 KiB
 * requests, one or two in flight; a 1 MiB window gives 1 MiB requests (ReplyFilter's max_pages). The knob is the
 * mount's backing device info in sysfs, writable by root only: others keep the default. A file takes the window
 * when it is opened, so it is set before the FUSE workers answer INIT (until then the mount serves nobody), and
 * the INIT reply says the same window: the kernel keeps the smaller of the two.
 */
final class Readahead {
    private static final Logger LOG = LoggerFactory.getLogger(Readahead.class);

    private Readahead() {
    }

    /** Waits (up to 10 s) for {@code mountpoint} to show in the mount table, then sets its bdi's read_ahead_kb. */
    static void apply(Path mountpoint, int kib) {
        try {
            String dev = null;
            for (int i = 0; i < 200 && dev == null; i++) {
                dev = deviceOf(mountpoint);
                if (dev == null) Thread.sleep(50);
            }
            if (dev == null) return;
            Path knob = Path.of("/sys/class/bdi", dev, "read_ahead_kb");
            if (!Files.isWritable(knob)) {
                LOG.info("readahead stays at the kernel default ({} is not writable)", knob);
                return;
            }
            Files.writeString(knob, kib + "\n");
            LOG.info("readahead {} KiB ({})", kib, knob);
        } catch (IOException e) {
            LOG.info("readahead stays at the kernel default: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** "major:minor" of the mount at {@code mountpoint}, from /proc/self/mountinfo, or null. */
    private static String deviceOf(Path mountpoint) throws IOException {
        String want = mountpoint.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals(want) && List.of(f).contains("fuse.jbtrfs")) return f[2];
        }
        return null;
    }
}
