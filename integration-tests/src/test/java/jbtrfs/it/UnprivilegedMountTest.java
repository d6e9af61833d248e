package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * A user without privileges mounts an image it owns through {@code bin/jbtrfs mount} (the daemon has fusermount
 * open /dev/fuse and mount it, and receives the descriptor over _FUSE_COMMFD), writes, and unmounts; the image is
 * then clean for {@code btrfs check} and the kernel's Btrfs shows what the user wrote. The user is nobody (65534),
 * which every Debian has. fusermount opens /dev/fuse as the user: where /dev/fuse is root's alone (some containers)
 * the test opens it to everyone for its run, as udev's rule does (0666), and puts the mode back.
 */
class UnprivilegedMountTest {
    private static final String USER = "65534";
    /** What the user writes, then lists (relative names, type, size, mode, owner, and each file's checksum). */
    private static final String WRITE = """
            echo hello > a
            mkdir -p d/e
            head -c 1048576 /dev/urandom > d/big
            seq 1 20000 > d/e/numbers
            ln d/big d/big-link
            ln -s ../a d/to-a
            mv a b
            """;
    private static final String LIST = """
            find . -mindepth 1 -printf '%P %y %s %m %U:%G %l\\n' | sort
            find . -type f -exec md5sum {} + | sort -k 2
            """;

    @TempDir
    Path dir;

    @Test
    void userMountsItsImage_writes_andTheKernelSeesItClean() throws Exception {
        Jbtrfs.requireNativeMount("an unprivileged mount through fusermount (_FUSE_COMMFD)");
        Prereq.requireBinary("setpriv", "util-linux");
        Path jar = Path.of(System.getenv().getOrDefault("JBTRFS_JAR",
                Jbtrfs.launcher().getParent().resolveSibling("fuse-adapter/target/jbtrfs.jar").toString()));
        Prereq.require(asUser("test -r " + jar + " && test -x " + Jbtrfs.launcher()).exitCode() == 0,
                "user " + USER + " cannot read " + jar + " or run the launcher");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        // the user's own image, mountpoint and root directory; the temporary directory open to it
        Images.withKernelMount(image, mnt, "", () -> Shell.sh("chown " + USER + ":" + USER + " " + mnt));
        Shell.sh("chmod 755 " + dir + " && chown " + USER + ":" + USER + " " + image + " " + mnt);
        String fuseMode = Shell.sh("stat -c %a /dev/fuse").trim();
        boolean opened = !fuseMode.equals("666");
        if (opened) Shell.sh("chmod 666 /dev/fuse");
        String listed;
        Shell.Result mounted = null;
        try {
            mounted = asUser(launcherWords("mount") + " " + image + " " + mnt);
            assertEquals(0, mounted.exitCode(), mounted.output());
            String line = Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                    .filter(l -> l.contains(" " + mnt + " ")).findFirst().orElse("");
            assertTrue(line.contains("fuse.jbtrfs") && line.contains("user_id=" + USER), line);
            Shell.Result wrote = asUser("cd " + mnt + " && " + WRITE + LIST);
            assertEquals(0, wrote.exitCode(), wrote.output());
            listed = wrote.stdout();
            Shell.Result unmounted = asUser(Jbtrfs.launcher() + " umount " + mnt);
            assertEquals(0, unmounted.exitCode(), unmounted.output());
        } finally {
            if (mounted != null) Jbtrfs.cleanUp(mnt, mounted.output());
            if (opened) Shell.sh("chmod " + fuseMode + " /dev/fuse");
        }
        assertTrue(listed.contains("b f 6 644 " + USER + ":" + USER), listed);
        Shell.Result check = Shell.attempt(List.of("btrfs", "check", "--readonly", image.toString()));
        assertEquals(0, check.exitCode(), check.output());
        String kernel = Images.withKernelMount(image, mnt, "ro", () -> Shell.sh(LIST, mnt));
        assertEquals(listed, kernel);
    }

    /** {@code bin/jbtrfs WORD} with the transport options of this run, for a shell line. */
    private static String launcherWords(String word) {
        List<String> cmd = new ArrayList<>(Jbtrfs.command(word));
        return String.join(" ", cmd);
    }

    /** Runs bash {@code script} as the user, with no group of root's and no capability. */
    private static Shell.Result asUser(String script) throws Exception {
        return Shell.attempt(List.of("setpriv", "--reuid=" + USER, "--regid=" + USER, "--clear-groups", "env",
                "HOME=/tmp", "bash", "-c", "set -e\n" + script));
    }
}
