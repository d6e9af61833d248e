package jbtrfs.testing;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;

/**
 * The one skip helper: each check that fails prints {@code skipped: <why>} (surefire's report keeps no assumption
 * text) and aborts the test through a JUnit assumption carrying the same reason.
 */
public final class Prereq {
    private Prereq() {
    }

    /** Skips the test, saying why, unless {@code ok}. */
    public static void require(boolean ok, String why) {
        if (!ok) System.out.println("skipped: " + why);
        Assumptions.assumeTrue(ok, why);
    }

    /** Whether the tests run as root. */
    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Skips unless root; {@code forWhat} says what needs it ("to mount ramfs"). */
    public static void requireRoot(String forWhat) {
        require(isRoot(), "needs root " + forWhat);
    }

    /** Skips unless root with loop devices. */
    public static void requireRootAndLoop() {
        require(isRoot() && Files.exists(Path.of("/dev/loop-control")), "needs root and loop devices");
    }

    /** Skips unless root, {@code /dev/fuse} and fusermount are here: what mounting through FUSE needs. */
    public static void requireFuse() {
        require(isRoot(), "these tests mount as root");
        require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing");
        require(onPath("fusermount"), "fusermount is missing (apt-get install fuse)");
    }

    /** Skips unless {@code binary} is an executable on PATH; {@code hint} says where it comes from. */
    public static void requireBinary(String binary, String hint) {
        require(onPath(binary), binary + " is not installed (" + hint + ")");
    }

    /** Skips unless the running kernel is at least {@code major.minor}; {@code feature} names what came then. */
    public static void requireKernel(int major, int minor, String feature) {
        String[] v = System.getProperty("os.version").split("[.-]", -1);
        int hasMajor = Integer.parseInt(v[0]);
        int hasMinor = v.length > 1 ? Integer.parseInt(v[1]) : 0;
        require(hasMajor > major || (hasMajor == major && hasMinor >= minor), "the kernel ("
                + System.getProperty("os.version") + ") predates " + feature + " (" + major + "." + minor + ")");
    }

    /** Whether an executable named {@code binary} is in a directory of PATH (or the sbin directories root has). */
    public static boolean onPath(String binary) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
        for (String dir : path.split(":", -1)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, binary))) return true;
        }
        return false;
    }
}
