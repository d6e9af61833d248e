package jbtrfs.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** JUnit assumptions that print why a test skips: root, /dev/fuse, fusermount. */
final class Prereq {
    private Prereq() {
    }

    static void requireFuse() {
        check("root".equals(System.getProperty("user.name")), "these tests mount as root");
        check(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing");
        check(Files.isExecutable(Path.of("/usr/bin/fusermount")) || Files.isExecutable(Path.of("/bin/fusermount")),
                "fusermount is missing (apt-get install fuse)");
    }

    /** FUSE_MAX_PAGES, which lets a request carry more than 32 pages, came with Linux 4.20. */
    static void requireFuseMaxPages() {
        String[] v = System.getProperty("os.version").split("[.-]");
        int major = Integer.parseInt(v[0]);
        int minor = v.length > 1 ? Integer.parseInt(v[1]) : 0;
        check(major > 4 || (major == 4 && minor >= 20), "the kernel (" + System.getProperty("os.version")
                + ") predates FUSE_MAX_PAGES (4.20)");
    }

    private static void check(boolean ok, String why) {
        if (!ok) System.out.println("SKIP: " + why);
        assumeTrue(ok, why);
    }
}
