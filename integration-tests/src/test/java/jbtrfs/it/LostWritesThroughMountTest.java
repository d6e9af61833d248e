package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeBlockPatch;

/**
 * An image damaged as btrfs-progs' fsck-tests/001-bad-file-extent-bytenr is (a file extent pointing where no extent
 * item is; the damage made here, the leaf re-sealed), mounted read-write through {@code bin/jbtrfs}: the rm of that
 * file returns 0, as on the kernel, and the commit that must drop its back reference aborts, as the kernel's does.
 * What the issue asks, and the kernel does: the changes are reported lost, never silently dropped. The unmount
 * exits non-zero with one line, the image stays at its last commit and btrfs check says what it said before.
 */
class LostWritesThroughMountTest {
    private static final Pattern LOST = Pattern.compile("jbtrfs: unmounted, but changes since the last commit "
            + "\\(transaction (\\d+)\\) were not written: (.+) \\(log (\\S+)\\)");

    @TempDir
    Path tmp;
    private Path image;
    private String checkBefore;

    @BeforeEach
    void damagedImage() throws Exception {
        Prereq.requireFuse();
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.write(src.resolve("victim"), new byte[64 << 10]);
        Files.writeString(src.resolve("keep"), "kept\n");
        image = Images.mkfs(tmp, src, 256, "-n", "16384");
        long ino = ImageDamage.inodeOf(image, "victim");
        // disk_bytenr (struct btrfs_file_extent_item offset 21): 1 TiB, sector-aligned (the kernel's tree checker
        // passes it) and in no chunk, so no extent item can be there
        TreeBlockPatch.patchItem(image, 5, ino, "EXTENT_DATA", 0, 16384, (leaf, at) -> leaf.putLong(at + 21, 1L << 40));
        checkBefore = check(image);
        assertTrue(checkBefore.contains("ERROR"), "the damage is what btrfs check reports: " + checkBefore);
    }

    @Test
    void rmThenUmount_reportsTheChangesLostInOneLine() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        mount(mnt, "commit=0");
        Files.writeString(mnt.resolve("new"), "written after the mount\n");
        Shell.Result rm = Shell.attempt(List.of("rm", mnt.resolve("victim").toString()));
        assertEquals(0, rm.exitCode(), "rm, as on the kernel, returns 0 (the back reference goes at the commit): "
                + rm.output());

        assertLostInOneLine(Jbtrfs.run("umount", mnt.toString()));
        assertStillTheLastCommit(mnt);
    }

    @Test
    void fsync_eioThenErofs_statsAndUmountReportTheAbort() throws Exception {
        Jbtrfs.requireNativeTransport("a commit on demand (BTRFS_IOC_SYNC)");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        mount(mnt, "commit=0,metrics=127.0.0.1:0");
        assertEquals(0, Shell.attempt(List.of("rm", mnt.resolve("victim").toString())).exitCode());
        // a commit on demand carries the rm: it aborts and says EIO (an fsync of a file would write a log instead)
        Shell.Result sync = Jbtrfs.run("filesystem", "sync", mnt.toString());
        assertNotEquals(0, sync.exitCode(), sync.output());
        assertTrue(sync.output().contains("Input/output error"), sync.output());
        // after the abort every fsync is EIO: nothing can be made durable any more
        Shell.Result fsync = Shell.attempt(List.of("python3", "-c",
                "import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))", mnt.resolve("keep").toString()));
        assertNotEquals(0, fsync.exitCode(), fsync.output());
        assertTrue(fsync.output().contains("Input/output error"), fsync.output());
        Shell.Result touch = Shell.attempt(List.of("touch", mnt.resolve("later").toString()));
        assertTrue(touch.output().contains("Read-only file system"), touch.output());
        Shell.Result stats = Jbtrfs.run("stats", mnt.toString());
        assertEquals(0, stats.exitCode(), stats.output());
        assertTrue(stats.output().matches("(?s).*jbtrfs_transaction_aborted\\s+1\\n.*"), stats.output());
        assertTrue(stats.output().contains("read-only since transaction "), stats.output());

        assertLostInOneLine(Jbtrfs.run("umount", mnt.toString()));
        assertStillTheLastCommit(mnt);
    }

    @Test
    void foregroundDaemonStoppedBySigterm_exitsNonZeroWithTheLine() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path stderr = tmp.resolve("stderr");
        Process daemon = new ProcessBuilder(Jbtrfs.command("mount", "-f", "-o", "commit=0",
                image.toString(), mnt.toString())).redirectErrorStream(true).redirectOutput(stderr.toFile()).start();
        try {
            for (int i = 0; i < 600 && !mounted(mnt); i++) Thread.sleep(100);
            assertTrue(mounted(mnt), "the mount came up: " + Files.readString(stderr));
            assertEquals(0, Shell.attempt(List.of("rm", mnt.resolve("victim").toString())).exitCode());
            daemon.destroy(); // SIGTERM: unmount, the last commit aborts
            assertTrue(daemon.waitFor(60, TimeUnit.SECONDS), "the daemon exits");
        } finally {
            daemon.destroyForcibly();
        }
        assertNotEquals(0, daemon.exitValue());
        // its log lines go to stderr too; the one line of ours says what was lost
        List<String> ours = Files.readString(stderr).lines().filter(l -> l.startsWith("jbtrfs: ")).toList();
        assertEquals(1, ours.size(), Files.readString(stderr));
        assertTrue(ours.get(0).startsWith("jbtrfs: unmounted, but changes since the last commit (transaction "),
                ours.get(0));
        assertFalse(mounted(mnt));
        assertStillTheLastCommit(mnt);
    }

    private static boolean mounted(Path mnt) throws Exception {
        return Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " fuse.jbtrfs ");
    }

    private void mount(Path mnt, String options) throws Exception {
        Shell.Result r = Jbtrfs.run("mount", "-o", options, image.toString(), mnt.toString());
        assertEquals(0, r.exitCode(), "mount: " + r.output());
    }

    /** Non-zero, and exactly the one line, naming the generation the image keeps and the log with the details. */
    private void assertLostInOneLine(Shell.Result umount) throws Exception {
        assertNotEquals(0, umount.exitCode(), "never exit 0 after a failed commit: " + umount.output());
        List<String> lines = umount.output().strip().lines().toList();
        assertEquals(1, lines.size(), umount.output());
        Matcher m = LOST.matcher(lines.get(0));
        assertTrue(m.matches(), lines.get(0));
        assertTrue(m.group(2).contains("no extent item"), m.group(2));
        assertTrue(Files.readString(Path.of(m.group(3))).contains("transaction " + (Long.parseLong(m.group(1)) + 1)
                + " aborted"), "the log says it too");
        assertFalse(Files.readString(Path.of("/proc/self/mounts")).contains(" " + tmp.resolve("mnt") + " "));
    }

    /** Remounted read-only: what the failed commit held is not there, the rest is, and the damage is as it was. */
    private void assertStillTheLastCommit(Path mnt) throws Exception {
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            assertTrue(Files.exists(mnt.resolve("victim")));
            assertEquals("kept\n", Files.readString(mnt.resolve("keep")));
            assertFalse(Files.exists(mnt.resolve("new")));
        }
        assertEquals(checkBefore, check(image));
    }

    private static String check(Path image) throws Exception {
        Shell.Result r = Shell.attempt(List.of("btrfs", "check", "--readonly", image.toString()));
        return r.exitCode() + "\n" + r.output();
    }
}
