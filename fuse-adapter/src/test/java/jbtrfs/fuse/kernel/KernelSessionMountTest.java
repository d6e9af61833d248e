package jbtrfs.fuse.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real mounts through {@link KernelSession} of a fixed one-file tree: ls, cat and stat see it, a signal to a
 * process waiting on a LOOKUP reaches it as INTERRUPT, notifications drop what the kernel cached, the unmount ends
 * the session and the handler's destroy runs once. As root with mount(2), and through fusermount's fd passing.
 */
class KernelSessionMountTest {
    @TempDir
    Path dir;

    @Test
    void mountAsRoot_servesLsCatStat_andUnmountEndsSession() throws Exception {
        requireRootAndFuse();
        mountServeAndCheck(false, false);
    }

    @Test
    void mountThroughFusermount_receivesFdBySocket_andServes() throws Exception {
        requireRootAndFuse();
        Assumptions.assumeTrue(FuseMount.fusermount() != null, () -> skip("no fusermount3 or fusermount on PATH"));
        mountServeAndCheck(true, false);
    }

    @Test
    void mountWithIoUring_servesOverTheRing_withInterruptsAndNotificationsOnDevFuse() throws Exception {
        requireRootAndFuse();
        Assumptions.assumeTrue(Files.isWritable(FuseUring.ENABLE_URING),
                () -> skip("no writable " + FuseUring.ENABLE_URING + " (a kernel without FUSE over io_uring)"));
        IoUringTest.requireIoUring();
        // the kernel offers the ring at INIT only while its module parameter is Y: set for this mount, then put back
        String was = Files.readString(FuseUring.ENABLE_URING).trim();
        Files.writeString(FuseUring.ENABLE_URING, "Y");
        try {
            mountServeAndCheck(false, true);
        } finally {
            Files.writeString(FuseUring.ENABLE_URING, was);
        }
    }

    private void mountServeAndCheck(boolean viaFusermount, boolean ioUring) throws Exception {
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        MountSpec spec = new MountSpec(mnt, "/images/fixed-tree.img", "jbtrfstest", MountSpec.MS_NODEV, true, true,
                1 << 20, viaFusermount);
        FixedTreeHandler handler = new FixedTreeHandler();
        KernelSession session = KernelSession.mount(spec,
                SessionOptions.defaults().withThreads(3).withIoUring(ioUring));
        Thread server = null;
        try {
            session.serve(handler);
            int[] result = new int[1];
            server = new Thread(() -> {
                try {
                    result[0] = session.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            server.start();
            assertEquals("fuse.jbtrfstest /images/fixed-tree.img", mountinfo(mnt));
            assertEquals("hello.txt\n", run("ls", mnt.toString()));
            assertEquals(new String(FixedTreeHandler.DATA, StandardCharsets.US_ASCII),
                    run("cat", mnt.resolve("hello.txt").toString()));
            assertEquals("257 31 81a4 1\n", run("stat", "-c", "%i %s %f %h", mnt.resolve("hello.txt").toString()));
            assertEquals("256 directory\n", run("stat", "-c", "%i %F", mnt.toString()));
            assertTrue(run("ls", mnt.resolve("missing").toString()).contains("No such file"));
            // a signal to a process waiting on a request makes the kernel send INTERRUPT naming it
            Process stat = new ProcessBuilder("stat", mnt.resolve("slow").toString()).start();
            assertTrue(handler.slowLookupStarted.await(30, TimeUnit.SECONDS), "the LOOKUP arrived");
            run("kill", "-INT", Long.toString(stat.pid()));
            assertTrue(stat.waitFor(30, TimeUnit.SECONDS), "stat ended on the signal");
            assertEquals(1, handler.interruptedLookups.get(), "the LOOKUP saw its INTERRUPT");
            assertEquals("hello.txt\n", run("ls", mnt.toString()), "the worker serves on");
            // changes the kernel did not make are seen once notified, not before (names and attributes kept an hour)
            handler.fileUid = 4321;
            assertEquals("0\n", run("stat", "-c", "%u", mnt.resolve("hello.txt").toString()));
            handler.notifier.invalInode(FixedTreeHandler.FILE_NODE, -1, 0);
            assertEquals("4321\n", run("stat", "-c", "%u", mnt.resolve("hello.txt").toString()));
            handler.hidden = true;
            assertEquals("4321\n", run("stat", "-c", "%u", mnt.resolve("hello.txt").toString()));
            handler.notifier.invalEntry(1, FixedTreeHandler.NAME);
            assertTrue(run("stat", mnt.resolve("hello.txt").toString()).contains("No such file"));
            handler.notifier.invalEntry(1, "never-looked-up".getBytes(StandardCharsets.US_ASCII));
            assertEquals(1, handler.inits.get());
            assertTrue(handler.connection.granted(FuseAbi.MAX_PAGES), "1 MiB requests");
            assertEquals(0, handler.destroys.get(), "no destroy while mounted");
            if (ioUring) {
                assertTrue(handler.connection.granted(FuseAbi.OVER_IO_URING), "the kernel offered the ring");
                // ls, cat, stat (several each), the slow LOOKUP and the lookups after the notifications
                assertTrue(session.requestsOverRing() >= 10, session.requestsOverRing() + " requests over the ring");
            } else {
                assertEquals(0, session.requestsOverRing());
            }
            session.unmount();
            server.join(TimeUnit.SECONDS.toMillis(20));
            assertFalse(server.isAlive(), "the session ends once the mount is gone");
            assertEquals(0, result[0]);
            assertEquals(1, handler.destroys.get(), "destroy once at the end");
            assertEquals(null, mountinfo(mnt));
        } finally {
            session.unmount();
            if (server != null) server.join(TimeUnit.SECONDS.toMillis(20));
        }
    }

    /** "TYPE SOURCE" of the mount at {@code mnt} from /proc/self/mountinfo, or null. */
    static String mountinfo(Path mnt) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (!f[4].equals(mnt.toAbsolutePath().toString())) continue;
            int dash = line.indexOf(" - ");
            String[] tail = line.substring(dash + 3).split(" ");
            return tail[0] + " " + tail[1];
        }
        return null;
    }

    /** Runs a command (stderr merged) and returns its output. */
    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    static void requireRootAndFuse() {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), () -> skip("mounting needs root"));
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), () -> skip("no /dev/fuse"));
    }

    static String skip(String why) {
        String msg = "KernelSessionMountTest skipped: " + why;
        System.out.println(msg);
        return msg;
    }
}
