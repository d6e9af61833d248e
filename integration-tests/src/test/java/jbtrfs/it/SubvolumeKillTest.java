package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * kill -9 of the daemon (a process kill, not a power cut) while it drops a deleted subvolume and while snapshots are
 * being made: the image is at a commit and checks clean; an interrupted drop resumes at our next mount and
 * finishes; every snapshot the kernel then sees is whole.
 */
class SubvolumeKillTest {
    private static final Pattern DROP = Pattern.compile("\\(256 ROOT_ITEM[^\\n]*\\n(?:[^\\n]*\\n){0,12}?[^\\n]*"
            + "drop_progress key \\((\\d+) ");

    @TempDir
    Path dir;

    @Test
    void killDuringSubvolumeDrop_imageChecksClean_dropFinishesAtTheNextMount() throws Exception {
        Jbtrfs.requireNativeMount("jbtrfs subvolume delete (the btrfs ioctls)");
        // 4 KiB nodes and 30000 files: some 5500 leaves, a drop of several steps (a commit each)
        Path made = Images.mkfs(dir, null, 256, "-n", "4096");
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Images.kernelScript(made, mnt,
                "btrfs subvolume create sv >/dev/null && cd sv && seq 1 30000 | xargs touch && echo kept > ../kept");
        // on a quiet host the drop can end before a poll sees it under way, or between that poll and the kill:
        // each is a try that caught nothing, and the test fails only if no try leaves a drop under way
        Path image = dir.resolve("drop.img");
        boolean caught = false;
        for (int attempt = 0; attempt < 6 && !caught; attempt++) {
            Shell.sh("cp --sparse=always " + made + " " + image);
            Jbtrfs.mountReadWrite(image, mnt);
            String pid = Jbtrfs.daemonPid(mnt);
            long progress = 0;
            try {
                Shell.sh(Jbtrfs.launcher() + " subvolume delete sv", mnt);
                for (int i = 0; i < 600 && progress == 0; i++) {
                    progress = dropProgress(image);
                    if (progress == 0 && !rootItemOf256(image)) break; // the drop ended unseen
                    if (progress == 0) Thread.sleep(50);
                }
                Shell.sh("kill -9 " + pid);
            } finally {
                Jbtrfs.afterKill(mnt, pid);
            }
            caught = progress > 0 && dropProgress(image) > 0;
        }
        assertTrue(caught, "the image holds a drop under way after a kill, in one of 6 tries");
        BtrfsCheck.assertClean(image, "after kill -9 in the middle of a subvolume drop");
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            for (int i = 0; i < 1200 && rootItemOf256(image); i++) Thread.sleep(100);
            assertEquals("kept\n", Files.readString(mnt.resolve("kept")));
        }
        assertTrue(!rootItemOf256(image), "the dropped subvolume's root item is gone");
        BtrfsCheck.assertClean(image, "after the drop finished");
        assertEquals("", Images.withKernelMount(image, mnt, "ro",
                () -> Shell.sh("btrfs subvolume list -d . && btrfs subvolume list .", mnt)));
    }

    @Test
    void killDuringSnapshots_imageChecksClean_everySnapshotWhole() throws Exception {
        Jbtrfs.requireNativeMount("jbtrfs subvolume snapshot (the btrfs ioctls)");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Jbtrfs.mountReadWrite(image, mnt);
        String pid = Jbtrfs.daemonPid(mnt);
        String sum;
        try {
            Shell.sh(Jbtrfs.launcher() + " subvolume create sv && head -c 2M /dev/urandom > sv/f && seq 1 3000 > "
                    + "sv/g && " + Jbtrfs.launcher() + " filesystem sync .", mnt);
            sum = Shell.sh("cat sv/f sv/g | md5sum", mnt);
            Process loop = new ProcessBuilder("bash", "-c", "cd " + mnt + " && for i in $(seq 1 500); do "
                    + Jbtrfs.launcher() + " subvolume snapshot sv s$i >/dev/null 2>&1 || exit 0; done")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("loop.out").toFile()).start();
            for (int i = 0; i < 1200 && !Files.exists(mnt.resolve("s3")); i++) Thread.sleep(50);
            Shell.sh("kill -9 " + pid);
            loop.waitFor();
        } finally {
            Jbtrfs.afterKill(mnt, pid);
        }
        BtrfsCheck.assertClean(image, "after kill -9 among snapshot creations");
        Images.withKernelMount(image, mnt, "ro", () -> {
            String snapshots = Shell.sh("ls -d s[0-9]* | sort -V", mnt);
            List<String> names = snapshots.lines().toList();
            assertTrue(names.size() >= 3, snapshots);
            for (String s : names) assertEquals(sum, Shell.sh("cat " + s + "/f " + s + "/g | md5sum", mnt), s);
            // every snapshot the kernel lists has its name in the mount, and the other way round
            assertEquals(names.size() + 1, Shell.sh("btrfs subvolume list .", mnt).lines().count());
            return null;
        });
    }

    /** The daemon serving {@code mnt}. */
    private static String daemon(Path mnt) throws Exception {
        String pid = Shell.sh("pgrep -f '[j]btrfs.jar mount (-f|--detached) .*" + mnt + "' | sed -n 1p").trim();
        assertTrue(!pid.isEmpty(), "no daemon for " + mnt);
        return pid;
    }

    /** The objectid of subvolume 256's drop_progress in the committed root tree; 0 when none (or unreadable now). */
    private static long dropProgress(Path image) throws Exception {
        Shell.Result r = Shell.attempt(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "root",
                image.toString()));
        if (r.exitCode() != 0) return 0;
        Matcher m = DROP.matcher(r.stdout());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    private static boolean rootItemOf256(Path image) throws Exception {
        Shell.Result r = Shell.attempt(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "root",
                image.toString()));
        return r.exitCode() != 0 || r.stdout().contains("(256 ROOT_ITEM");
    }
}
