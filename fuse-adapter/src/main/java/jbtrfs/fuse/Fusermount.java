package jbtrfs.fuse;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds and runs fusermount, the setuid helper libfuse2 mounts and unmounts with. */
final class Fusermount {
    private Fusermount() {
    }

    /** fusermount's path on $PATH, or null. */
    static Path path() {
        String env = System.getenv("PATH");
        for (String dir : (env != null ? env : "/usr/bin:/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir, "fusermount");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
