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

    private static void check(boolean ok, String why) {
        if (!ok) System.out.println("SKIP: " + why);
        assumeTrue(ok, why);
    }
}
