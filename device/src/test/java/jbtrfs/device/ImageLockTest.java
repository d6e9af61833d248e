package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The image lock: flock semantics (per open file description, so two opens in one JVM conflict; another process's
 * flock(1) conflicts both ways), held by a device until it closes, and loop devices backed by the file.
 */
class ImageLockTest {
    private static final long PID = ProcessHandle.current().pid();

    @TempDir
    Path dir;
    private Path image;
    private final List<String> loops = new ArrayList<>();

    @BeforeEach
    void image() throws IOException {
        Prereq.require(LibC.load() != null, "libc cannot be bound (not Linux)");
        image = dir.resolve("image.img");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(8 << 20);
        }
    }

    @AfterEach
    void detach() throws Exception {
        for (String loop : loops) run("losetup", "-d", loop);
    }

    @Test
    void twoWritersInOneJvm_secondRefusedNamingThisPid_untilTheFirstLetsGo() throws IOException {
        try (ImageLock first = ImageLock.acquire(image, true)) {
            ImageInUseException e = assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, true));
            assertTrue(e.getMessage().startsWith("image is in use: locked read-write by pid " + PID + " ("),
                    e.getMessage());
            assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, false), "a reader of a written image");
        }
        ImageLock.acquire(image, true).close();
    }

    @Test
    void readersShare_aWriterIsRefusedWhileTheyRead() throws IOException {
        try (ImageLock a = ImageLock.acquire(image, false); ImageLock b = ImageLock.acquire(image, false)) {
            ImageInUseException e = assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, true));
            assertTrue(e.getMessage().startsWith("image is in use: locked read-only by pid " + PID), e.getMessage());
        }
        ImageLock.acquire(image, true).close();
    }

    @Test
    void anotherProcessesFlock_conflictsBothWays() throws Exception {
        Prereq.requireBinary("flock", "util-linux");
        // flock(1) holds the lock until we close its standard input
        Process holder = new ProcessBuilder("flock", "-x", image.toString(), "-c", "echo locked; cat >/dev/null").start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                StandardCharsets.UTF_8))) {
            assertEquals("locked", out.readLine());
            ImageInUseException e = assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, false));
            assertTrue(e.getMessage().startsWith("image is in use: locked read-write by pid " + holder.pid() + " (flock)"),
                    e.getMessage());
            holder.getOutputStream().close();
            assertEquals(0, holder.waitFor());
        }
        try (ImageLock ours = ImageLock.acquire(image, true)) {
            assertEquals(1, run("flock", "-n", "-s", image.toString(), "true"), "flock(1) while we write");
        }
        try (ImageLock ours = ImageLock.acquire(image, false)) {
            assertEquals(0, run("flock", "-n", "-s", image.toString(), "true"), "flock(1) shares with a reader");
        }
    }

    @Test
    void aDeviceHoldsTheLockUntilClosed_evenWhenOtherDescriptorsOfTheFileClose() throws IOException {
        BlockDevice device = BlockDevice.openLocked(image, DeviceOptions.defaults().withBackend(Backend.NIO));
        try {
            // an fcntl lock would be gone now: closing any descriptor of the file drops the process's POSIX locks
            FileChannel.open(image).close();
            assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, false));
        } finally {
            device.close();
        }
        ImageLock.acquire(image, true).close();
    }

    @Test
    void loopDevices_aReadOnlyOneAdmitsReaders_aWritableOneNobody() throws Exception {
        Prereq.requireRootAndLoop();
        String ro = attach("-r");
        ImageInUseException e = assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, true));
        assertEquals("image is attached to " + ro + " (read-only, not mounted)", e.getMessage());
        ImageLock.acquire(image, false).close();
        // spelled another way (a symlink): the same file
        Path link = Files.createSymbolicLink(dir.resolve("link.img"), image);
        assertThrows(ImageInUseException.class, () -> ImageLock.acquire(link, true));

        String rw = attach();
        e = assertThrows(ImageInUseException.class, () -> ImageLock.acquire(image, false));
        assertEquals("image is attached to " + rw + " (not mounted)", e.getMessage());
        run("losetup", "-d", rw);
        run("losetup", "-d", ro);
        loops.clear();
        ImageLock.acquire(image, true).close();
    }

    @Test
    void aBlockDevice_isClaimedExclusivelyToWrite() throws Exception {
        Prereq.requireRootAndLoop();
        Path loop = Path.of(attach());
        try (ImageLock writer = ImageLock.acquire(loop, true)) {
            ImageInUseException e = assertThrows(ImageInUseException.class, () -> ImageLock.acquire(loop, true));
            assertTrue(e.getMessage().startsWith("image is in use: locked read-write by pid " + PID), e.getMessage());
            assertThrows(ImageInUseException.class, () -> ImageLock.acquire(loop, false));
            // what the kernel's mount would meet: O_EXCL refused while we write
            assertTrue(LibC.load().open(loop.toString(), LibC.O_RDONLY | LibC.O_EXCL, 0) < 0, "O_EXCL open");
            assertEquals(Errno.EBUSY, LibC.errno());
        }
        try (ImageLock a = ImageLock.acquire(loop, false); ImageLock b = ImageLock.acquire(loop, false)) {
            assertThrows(ImageInUseException.class, () -> ImageLock.acquire(loop, true));
        }
        ImageLock.acquire(loop, true).close();
    }

    private String attach(String... flags) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("losetup", "--find", "--show"));
        cmd.addAll(List.of(flags));
        cmd.add(image.toString());
        Shell.Result r = Shell.attempt(cmd);
        String out = r.output().trim();
        Prereq.require(r.exitCode() == 0 && out.startsWith("/dev/loop"), "losetup failed: " + out);
        loops.add(out);
        return out;
    }

    /** Runs {@code cmd}; its exit code, with what it printed shown beside the test's output. */
    private static int run(String... cmd) throws Exception {
        Shell.Result r = Shell.attempt(List.of(cmd));
        System.out.print(r.output());
        return r.exitCode();
    }
}
