package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * Mounting like any filesystem: mount(8) and umount(8) with type fuse.jbtrfs run the helpers the quick start
 * installs in /sbin; they print nothing on success, one line on failure, and umount returns only after the
 * daemon's last commit, so the kernel can mount the image at once.
 */
@ExtendWith(MountPrereqs.Fuse.class)
class MountHelperTest {
    @TempDir
    Path tmp;
    Path mnt;

    @BeforeEach
    void setUp() throws Exception {
        Prereq.require(Files.isExecutable(Path.of("/sbin/mount.fuse.jbtrfs"))
                && Files.isExecutable(Path.of("/sbin/umount.fuse.jbtrfs")),
                "/sbin/mount.fuse.jbtrfs is not installed (bin/quickstart links it)");
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (mnt != null && mounted()) Shell.attempt(List.of("fusermount", "-u", "-z", mnt.toString()));
    }

    private boolean mounted() throws Exception {
        return Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " fuse.jbtrfs ");
    }

    private Path image(byte[] content) throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.write(src.resolve("data"), content);
        return Images.mkfs(tmp, src, 256);
    }

    /** {@code n} random bytes, the same for the same {@code seed}. */
    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void mountAndUmount_printNothing_andUmountWaitsForTheLastCommit() throws Exception {
        Images.requireRootAndLoop();
        byte[] content = random(200_000, 7);
        Path image = image(content);

        mountType(image, "-o", "rw,noatime,x-jbtrfs-test");
        assertTrue(mounted(), "not mounted");
        assertArrayEquals(content, Files.readAllBytes(mnt.resolve("data")));
        Files.write(mnt.resolve("written"), content);

        Shell.Result u = Shell.attempt(List.of("umount", mnt.toString()));
        assertEquals(0, u.exitCode(), u.output());
        assertEquals("", u.output());
        // no daemon left, so the image is free: the kernel mounts it at once and sees the write
        Path kmnt = Files.createDirectory(tmp.resolve("kmnt"));
        Shell.run(List.of("mount", "-o", "loop,ro", image.toString(), kmnt.toString()));
        try {
            assertArrayEquals(content, Files.readAllBytes(kmnt.resolve("written")));
        } finally {
            Shell.run(List.of("umount", kmnt.toString()));
        }
        assertEquals(0, Shell.attempt(List.of("btrfs", "check", "--readonly", image.toString())).exitCode());
    }

    @Test
    void fstabLine_mountsReadOnly_withItsOptions() throws Exception {
        byte[] content = "from fstab\n".getBytes();
        Path image = image(content);
        Path fstab = tmp.resolve("fstab");
        Files.writeString(fstab, image + " " + mnt + " fuse.jbtrfs ro,noauto,nofail,read_ahead_kb=512 0 0\n");

        Shell.Result m = Shell.attempt(List.of("mount", "-T", fstab.toString(), mnt.toString()));
        assertEquals(0, m.exitCode(), m.output());
        assertEquals("", m.output());
        String line = Files.readString(Path.of("/proc/self/mounts")).lines()
                .filter(l -> l.contains(" " + mnt + " ")).findFirst().orElseThrow();
        assertTrue(line.contains(" ro,") || line.contains(" ro "), line);
        assertArrayEquals(content, Files.readAllBytes(mnt.resolve("data")));
        assertEquals(0, Shell.attempt(List.of("umount", mnt.toString())).exitCode());
        assertTrue(!mounted(), "still mounted");
    }

    @Test
    void failedMount_isOneLine_withMountsFailureStatus() throws Exception {
        Path missing = tmp.resolve("missing.img");
        Shell.Result m = Shell.attempt(List.of("mount", "-t", "fuse.jbtrfs", missing.toString(), mnt.toString()));
        assertEquals(32, m.exitCode(), m.output());
        assertEquals(List.of("jbtrfs: image not found: " + missing), m.output().lines().toList());
    }

    @Test
    void remountRo_commitsFirst_thenRemountRw_writesAgain() throws Exception {
        Images.requireRootAndLoop();
        byte[] content = random(100_000, 9);
        Path image = image(content);
        mountType(image);
        Files.write(mnt.resolve("before"), content);

        Shell.Result ro = Shell.attempt(List.of("mount", "-o", "remount,ro", mnt.toString()));
        assertEquals(0, ro.exitCode(), ro.output());
        assertEquals("", ro.output());
        assertTrue(mountLine().contains(" ro,"), mountLine());
        assertThrows(IOException.class, () -> Files.write(mnt.resolve("refused"), content));
        // the commit at remount,ro is on the image already: a copy taken now holds the file
        Path copy = tmp.resolve("copy.img");
        Files.copy(image, copy);
        assertEquals(0, Shell.attempt(List.of("btrfs", "check", "--readonly", copy.toString())).exitCode());
        assertArrayEquals(content, kernelRead(copy, "before"));

        Shell.Result rw = Shell.attempt(List.of("mount", "-o", "remount,rw", mnt.toString()));
        assertEquals(0, rw.exitCode(), rw.output());
        assertEquals("", rw.output());
        Files.write(mnt.resolve("after"), content);
        assertEquals(0, Shell.attempt(List.of("umount", mnt.toString())).exitCode());
        assertArrayEquals(content, kernelRead(image, "after"));
    }

    @Test
    void readOnlyImage_refusesRemountRw_inOneLine() throws Exception {
        Path image = image("x".getBytes());
        mountType(image, "-o", "ro");
        Shell.Result rw = Shell.attempt(List.of("mount", "-o", "remount,rw", mnt.toString()));
        assertEquals(32, rw.exitCode(), rw.output());
        assertEquals(List.of("jbtrfs: the image was mounted read-only: unmount it and mount it read-write"),
                rw.output().lines().toList());
        assertTrue(mountLine().contains(" ro,"), mountLine());
        assertEquals(0, Shell.attempt(List.of("umount", mnt.toString())).exitCode());
    }

    @Test
    void asRoot_deviceNodesWork_likeAKernelMount_andNodevStopsThem() throws Exception {
        Path image = image("x".getBytes());
        mountType(image);
        assertTrue(!mountLine().contains("nodev") && !mountLine().contains("nosuid"), mountLine());
        Shell.run(List.of("mknod", mnt.resolve("null").toString(), "c", "1", "3"));
        Shell.run(List.of("sh", "-c", "echo through > " + mnt.resolve("null")));
        assertEquals(0, Shell.attempt(List.of("umount", mnt.toString())).exitCode());

        mountType(image, "-o", "nodev");
        assertTrue(mountLine().contains("nodev"), mountLine());
        Shell.Result refused = Shell.attempt(List.of("sh", "-c", "echo through > " + mnt.resolve("null")));
        assertTrue(refused.exitCode() != 0 && refused.output().contains("Permission denied"), refused.output());
        assertEquals(0, Shell.attempt(List.of("umount", mnt.toString())).exitCode());
    }

    /**
     * generic/732: one image at a second mountpoint serves the same filesystem, as the kernel's Btrfs shares its
     * superblock (a bind of the first mount; a second daemon would corrupt the image). Either unmount may come
     * first: the first one leaves the daemon serving the other at once, the last waits for its last commit.
     */
    @Test
    void secondMountpoint_servesTheSameFilesystem_andTheLastUmountWaitsForTheDaemon() throws Exception {
        Images.requireRootAndLoop();
        byte[] content = "one image\n".getBytes();
        Path image = image(content);
        Path second = Files.createDirectory(tmp.resolve("second"));
        mountType(image, "-o", "allow_other");
        Shell.Result m = Shell.attempt(List.of("mount", "-t", "fuse.jbtrfs", image.toString(), second.toString()));
        assertEquals(0, m.exitCode(), m.output());
        assertEquals("", m.output());
        try {
            String script = "mkdir A B; touch A/f; mv A/f B/; cat %2$s/B/f; mv %2$s/B/f %2$s/A/; cat A/f; "
                    + "echo x > A/f; cat %2$s/A/f; stat -c %%i A/f %2$s/A/f | uniq | wc -l";
            assertEquals("x\n1\n", Shell.sh(String.format(script, mnt, second), mnt));
            assertEquals(0, Shell.attempt(List.of("umount", mnt.toString())).exitCode());
            assertEquals("x\n", Files.readString(second.resolve("A/f")));
            Shell.Result u = Shell.attempt(List.of("umount", second.toString()));
            assertEquals(0, u.exitCode(), u.output());
            assertEquals("", u.output());
        } finally {
            Shell.attempt(List.of("umount", "-l", second.toString()));
        }
        assertArrayEquals("x\n".getBytes(), kernelRead(image, "A/f"));
        assertEquals(0, Shell.attempt(List.of("btrfs", "check", "--readonly", image.toString())).exitCode());
    }

    /** {@code mount -t fuse.jbtrfs [options] image mnt}, which must succeed and print nothing. */
    private void mountType(Path image, String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("mount", "-t", "fuse.jbtrfs"));
        cmd.addAll(List.of(options));
        cmd.addAll(List.of(image.toString(), mnt.toString()));
        Shell.Result m = Shell.attempt(cmd);
        assertEquals(0, m.exitCode(), m.output());
        assertEquals("", m.output());
    }

    private String mountLine() throws Exception {
        return Files.readString(Path.of("/proc/self/mounts")).lines().filter(l -> l.contains(" " + mnt + " "))
                .findFirst().orElse("(not mounted)");
    }

    private byte[] kernelRead(Path image, String name) throws Exception {
        Path kmnt = Files.createTempDirectory(tmp, "kmnt");
        Shell.run(List.of("mount", "-o", "loop,ro", image.toString(), kmnt.toString()));
        try {
            return Files.readAllBytes(kmnt.resolve(name));
        } finally {
            Shell.run(List.of("umount", kmnt.toString()));
        }
    }
}
