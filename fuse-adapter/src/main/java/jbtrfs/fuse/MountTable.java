package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads /proc/self/mountinfo: whether a directory is a mountpoint, and of what type. */
final class MountTable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private MountTable() {
    }

    /** The filesystem type mounted at {@code dir} ("fuse.jbtrfs", "ext4", ...), or null when none is. */
    static String typeAt(Path dir) throws IOException {
        String want = dir.toAbsolutePath().normalize().toString();
        String type = null;
        for (String line : Files.readAllLines(MOUNTINFO)) {
            // id parent major:minor root mountpoint options [optional fields] - type source superoptions
            String[] f = line.split(" ");
            if (f.length < 5 || !unescape(f[4]).equals(want)) continue;
            int dash = List.of(f).indexOf("-");
            if (dash > 0 && dash + 1 < f.length) type = f[dash + 1];
        }
        return type;
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
