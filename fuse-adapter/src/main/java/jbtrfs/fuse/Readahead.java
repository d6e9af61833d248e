package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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

    /** Sets the read_ahead_kb of the jbtrfs mount at {@code mountpoint} (mounted already: no waiting). */
    static void apply(Path mountpoint, int kib) {
        try {
            Path bdi = MountTable.bdiOf(mountpoint);
            if (bdi == null) {
                LOG.info("readahead stays at the kernel default ({} is no jbtrfs mount in /proc/self/mountinfo)",
                        mountpoint);
                return;
            }
            Path knob = bdi.resolve("read_ahead_kb");
            if (!Files.isWritable(knob)) {
                LOG.info("readahead stays at the kernel default ({} is not writable)", knob);
                return;
            }
            Files.writeString(knob, kib + "\n");
            LOG.info("readahead {} KiB ({})", kib, knob);
        } catch (IOException e) {
            LOG.info("readahead stays at the kernel default: {}", e.getMessage());
        }
    }
}
