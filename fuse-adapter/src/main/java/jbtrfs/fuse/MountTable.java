package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads /proc/self/mountinfo: whether a directory is a mountpoint, of what type, on what device. */
final class MountTable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private MountTable() {
    }

    /**
     * One mount: its device number ("major:minor"), filesystem type ("fuse.jbtrfs", "ext4", ...) and per-mount
     * options ("rw,nosuid,nodev,relatime").
     */
    record Mount(String device, String type, String options) {
        /** Whether the mount is read-only (remount,ro sets this; the filesystem's own flags may differ). */
        boolean readOnly() {
            return List.of(options.split(",")).contains("ro");
        }
    }

    /** The filesystem type mounted at {@code dir}, or null when none is. */
    /** One line (CliException) unless {@code dir} is a jbtrfs mount: what every command on a live mount checks. */
    static void requireJbtrfs(Path dir) throws IOException, CliException {
        if (!"fuse.jbtrfs".equals(typeAt(dir))) throw new CliException("not a jbtrfs mount: " + dir);
    }

    static String typeAt(Path dir) throws IOException {
        Mount m = at(dir);
        return m == null ? null : m.type();
    }

    /** The mount on top at {@code dir} (the last listed there), or null when none is. */
    static Mount at(Path dir) throws IOException {
        String want = dir.toAbsolutePath().normalize().toString();
        Mount top = null;
        for (String line : Files.readAllLines(MOUNTINFO)) {
            // id parent major:minor root mountpoint options [optional fields] - type source superoptions
            String[] f = line.split(" ");
            if (f.length < 5 || !unescape(f[4]).equals(want)) continue;
            int dash = List.of(f).indexOf("-");
            if (dash > 0 && dash + 1 < f.length) top = new Mount(f[2], f[dash + 1], f[5]);
        }
        return top;
    }

    /**
     * The sysfs directory of the backing device info of the jbtrfs mount at {@code dir} (/sys/class/bdi/major:minor,
     * where its readahead and dirty limits are set), or null when no jbtrfs mount is there.
     */
    static Path bdiOf(Path dir) throws IOException {
        Mount m = at(dir);
        return m == null || !m.type().equals("fuse.jbtrfs") ? null : Path.of("/sys/class/bdi", m.device());
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
