package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * The image lock through {@code bin/jbtrfs}: a second read-write mount, a reader of a written image, a writer of a
 * read one, and any mount of an image the kernel has on a writable loop device are refused with one line naming
 * the holder, before FUSE mounts anything; readers share; once the holder is gone the mount goes through.
 */
@ExtendWith(MountPrereqs.FuseAndKernelBtrfs.class)
class ImageLockThroughMountTest {
    @TempDir
    Path tmp;
    private Path image;

    @BeforeEach
    void setUp() throws Exception {
        image = Images.mkfs(tmp, null, 256);
    }

    @Test
    void aSecondReadWriteMount_isRefusedNamingTheFirst_whichKeepsWorking() throws Exception {
        Path a = dir("a");
        Path b = dir("b");
        try (Jbtrfs first = Jbtrfs.mountReadWrite(image, a)) {
            Shell.sh("for i in $(seq 1 50); do echo file $i > f$i; done", a);
            String line = Jbtrfs.refusal("mount", image.toString(), b.toString());
            Matcher m = Pattern.compile("image is in use: mounted read-write by jbtrfs pid (\\d+) at (.*)").matcher(line);
            assertTrue(m.matches(), line);
            assertEquals(a.toString(), m.group(2));
            String cmdline = Files.readString(Path.of("/proc", m.group(1), "cmdline"), StandardCharsets.UTF_8);
            // the daemon: bin/jbtrfs starts it detached (mount -f is the foreground form)
            assertTrue((cmdline.contains("mount\0-f\0") || cmdline.contains("mount\0--detached\0"))
                    && cmdline.endsWith(a + "\0"), "pid " + m.group(1) + ": " + cmdline);
            assertFalse(mounted(b), "nothing mounted at " + b);
            assertEquals(line, Jbtrfs.refusal("mount", "--read-only", image.toString(), b.toString()), "a reader too");
            Shell.sh("for i in $(seq 51 100); do echo file $i > f$i; done", a);
        }
        BtrfsCheck.assertClean(image, "after the refused mounts");
        Path kernel = dir("kernel");
        Images.withKernelMount(image, kernel, "ro", () -> {
            assertEquals("100\n", Shell.sh("ls | grep -c '^f'", kernel));
            assertEquals("file 1\nfile 100\n", Shell.sh("cat f1 f100", kernel));
            return null;
        });
    }

    @Test
    void readOnlyMountsShare_andKeepAWriterOut_untilTheyUnmount() throws Exception {
        Path a = dir("a");
        Path b = dir("b");
        Path c = dir("c");
        try (Jbtrfs first = Jbtrfs.mount(image, a); Jbtrfs second = Jbtrfs.mount(image, b)) {
            assertEquals(Shell.sh("ls -la --time-style=+", a), Shell.sh("ls -la --time-style=+", b));
            String line = Jbtrfs.refusal("mount", image.toString(), c.toString());
            assertTrue(line.matches("image is in use: mounted read-only by jbtrfs pids \\d+, \\d+ at " + a + ", " + b)
                    || line.matches("image is in use: mounted read-only by jbtrfs pids \\d+, \\d+ at " + b + ", " + a),
                    line);
        }
        writeOnceTheHolderIsGone(c);
    }

    @Test
    void aKernelLoopMount_keepsOutOurWriterAndReader_untilItIsUnmounted() throws Exception {
        Path kernel = dir("kernel");
        Path ours = dir("ours");
        Shell.sh("mount -o loop " + image + " " + kernel);
        try {
            String loop = Shell.sh("findmnt -n -o SOURCE " + kernel).trim();
            String expected = "image is attached to " + loop + " (mounted at " + kernel + " by the kernel)";
            assertEquals(expected, Jbtrfs.refusal("mount", image.toString(), ours.toString()));
            assertEquals(expected, Jbtrfs.refusal("mount", "--read-only", image.toString(), ours.toString()));
            assertFalse(mounted(ours));
        } finally {
            Shell.sh("umount " + kernel);
        }
        writeOnceTheHolderIsGone(ours);
    }

    /**
     * A kernel loop mount's loop device (autoclear) stays attached a moment after umount returns: our mount right
     * after it waits for the device to detach instead of refusing the image, cycle after cycle, and each side sees
     * what the other wrote.
     */
    @Test
    void aMountRightAfterAKernelLoopUmount_waitsForTheLoopDeviceToDetach() throws Exception {
        Path kernel = dir("kernel");
        Path ours = dir("ours");
        for (int cycle = 0; cycle < 5; cycle++) {
            // one shell, no pause: our mount starts as soon as umount returns
            Shell.Result r = Shell.attempt(List.of("sh", "-c", "mount -o loop " + image + " " + kernel
                    + " && echo kernel " + cycle + " > " + kernel + "/k" + cycle + " && umount " + kernel + " && "
                    + Jbtrfs.launcher() + " " + Jbtrfs.mountWords() + " " + image + " " + ours));
            try {
                assertEquals(0, r.exitCode(), "cycle " + cycle + ": " + r.output());
                assertEquals("kernel " + cycle + "\n", Shell.sh("cat k" + cycle, ours));
                Shell.sh("echo ours " + cycle + " > o" + cycle, ours);
            } finally {
                if (mounted(ours)) Jbtrfs.unmount(ours);
                if (mounted(kernel)) Shell.sh("umount " + kernel);
            }
        }
        Images.withKernelMount(image, kernel, "ro", () -> {
            assertEquals("ours 0\nours 4\n", Shell.sh("cat o0 o4", kernel));
            return null;
        });
        BtrfsCheck.assertClean(image, "after five kernel and jbtrfs mount cycles");
    }

    /**
     * An autoclear loop device that stays attached after its umount (another opener holds it) is waited for a
     * moment, then refused in one line as any loop device is; once it detaches the mount goes through.
     */
    @Test
    void aLoopDeviceThatStaysAttachedAfterItsUmount_isStillRefused() throws Exception {
        Path kernel = dir("kernel");
        Path ours = dir("ours");
        Shell.sh("mount -o loop " + image + " " + kernel);
        String loop = Shell.sh("findmnt -n -o SOURCE " + kernel).trim();
        // the holder: a process with the loop device open, which keeps autoclear from detaching it
        Process holder = new ProcessBuilder("sh", "-c", "exec 3< " + loop + "; echo open; exec sleep 600")
                .redirectErrorStream(true).start();
        try {
            assertEquals("open", new String(holder.getInputStream().readNBytes(4)));
            Shell.sh("umount " + kernel);
            assertEquals("1", Shell.sh("cat /sys/block/" + Path.of(loop).getFileName() + "/loop/autoclear").trim());
            assertEquals("image is attached to " + loop + " (not mounted)",
                    Jbtrfs.refusal("mount", image.toString(), ours.toString()));
            assertFalse(mounted(ours));
        } finally {
            holder.destroyForcibly().waitFor();
            if (mounted(kernel)) Shell.sh("umount " + kernel);
        }
        writeOnceTheHolderIsGone(ours);
    }

    @Test
    void aReadOnlyLoopDevice_admitsOurReader_notOurWriter() throws Exception {
        Path kernel = dir("kernel");
        Path ours = dir("ours");
        String loop = Shell.sh("losetup -r --find --show " + image).trim();
        try {
            assertEquals("image is attached to " + loop + " (read-only, not mounted)",
                    Jbtrfs.refusal("mount", image.toString(), ours.toString()));
            Shell.sh("mount -o ro " + loop + " " + kernel);
            try {
                assertEquals("image is attached to " + loop + " (read-only, mounted at " + kernel + " by the kernel)",
                        Jbtrfs.refusal("mount", image.toString(), ours.toString()));
                try (Jbtrfs reader = Jbtrfs.mount(image, ours)) {
                    assertEquals(Shell.sh("ls -la --time-style=+", kernel), Shell.sh("ls -la --time-style=+", ours));
                }
            } finally {
                Shell.sh("umount " + kernel);
            }
        } finally {
            Shell.sh("losetup -d " + loop);
        }
        writeOnceTheHolderIsGone(ours);
    }

    @Test
    void aBlockDeviceTheKernelMounts_isRefused_andOneWeWrite_theKernelCannotMount() throws Exception {
        Path kernel = dir("kernel");
        Path ours = dir("ours");
        String loop = Shell.sh("losetup --find --show " + image).trim();
        try {
            Shell.sh("mount " + loop + " " + kernel);
            try {
                String expected = "image is in use: mounted at " + kernel + " by the kernel";
                assertEquals(expected, Jbtrfs.refusal("mount", loop, ours.toString()));
                assertEquals(expected, Jbtrfs.refusal("mount", "--read-only", loop, ours.toString()));
            } finally {
                Shell.sh("umount " + kernel);
            }
            try (Jbtrfs writer = Jbtrfs.mountReadWrite(Path.of(loop), ours)) {
                Shell.sh("echo written > after", ours);
                // our O_EXCL claim: the kernel's mount of the device fails (EBUSY) while we write
                assertNotEquals(0, Shell.attempt(List.of("mount", loop, kernel.toString())).exitCode());
                assertFalse(mounted(kernel));
            }
        } finally {
            Shell.attempt(List.of("umount", kernel.toString()));
            Shell.sh("losetup -d " + loop);
        }
        BtrfsCheck.assertClean(image, "written through " + loop);
    }

    @Test
    void aMountRightAfterAnUnmount_waitsForTheDaemonStillLeaving() throws Exception {
        Path a = dir("a");
        Path b = dir("b");
        Jbtrfs.mountReadWrite(image, a);
        Shell.sh("for i in $(seq 1 100); do echo $i > f$i; done", a);
        // fstests generic/604 mounts 10 ms after a background unmount, while the old daemon still holds the image.
        // Here a file kept open across a lazy unmount holds it there: the mount is gone from mountinfo, the daemon
        // lives on until the file closes, which happens only once the new mount has the image open
        String pid = Jbtrfs.daemonPid(a);
        String script = "exec 3< " + a + "/f1; umount -i -l " + a + "; "
                + Jbtrfs.launcher() + " " + Jbtrfs.mountWords() + " " + image + " " + b + " 3<&- & m=$!; "
                + "for i in $(seq 1 300); do kill -0 $m 2>/dev/null || break; "
                + "find /proc/[0-9]*/fd -maxdepth 1 -lname '" + image + "' 2>/dev/null | grep -qv '^/proc/" + pid
                + "/' && break; sleep 0.05; done; sleep 0.2; exec 3<&-; wait $m";
        Shell.Result r = Shell.attempt(List.of("sh", "-c", script));
        try {
            assertEquals(0, r.exitCode(), r.output());
            assertEquals("1\n100\n", Shell.sh("cat f1 f100", b));
        } finally {
            if (mounted(b)) Jbtrfs.unmount(b);
        }
        BtrfsCheck.assertClean(image, "mounted again while the first daemon left");
    }

    /** Once the holder is gone, our read-write mount goes through and writes. */
    private void writeOnceTheHolderIsGone(Path mnt) throws Exception {
        try (Jbtrfs writer = Jbtrfs.mountReadWrite(image, mnt)) {
            Shell.sh("echo written > after", mnt);
        }
    }

    private Path dir(String name) throws Exception {
        return Files.createDirectory(tmp.resolve(name));
    }

    private static boolean mounted(Path dir) throws Exception {
        return Files.readString(Path.of("/proc/self/mounts")).contains(" " + dir + " ");
    }
}
