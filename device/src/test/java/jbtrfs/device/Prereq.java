package jbtrfs.device;

import org.junit.jupiter.api.Assumptions;

/** JUnit assumptions that print why a test is skipped. */
final class Prereq {
    private Prereq() {
    }

    static void assume(boolean ok, String why) {
        if (!ok) System.out.println("SKIPPED: " + why);
        Assumptions.assumeTrue(ok, why);
    }

    static void aio() {
        assume(AioBlockDevice.available(), "native AIO (Linux, libaio.so.1 from libaio1) is not available");
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }
}
