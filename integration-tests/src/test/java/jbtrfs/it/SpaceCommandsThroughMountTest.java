package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The space commands on a live native mount held to the kernel's view of the same image: {@code jbtrfs filesystem
 * usage} against {@code btrfs filesystem usage}; fstrim (FITRIM) punches the free space out of the image file,
 * as many bytes as the kernel's fstrim of the same image, and leaves the files and btrfs check as they were.
 */
class SpaceCommandsThroughMountTest {
    @TempDir
    Path dir;

    @Test
    void filesystemUsage_printsTheKernelsFigures_rawAndHuman() throws Exception {
        Jbtrfs.requireNativeMount("the btrfs ioctls (SPACE_INFO, DEV_INFO, TREE_SEARCH)");
        Path image = Images.mkfs(dir, null, 256);
        // the user the test switches to must reach the mountpoint and read the image: @TempDir is private to root
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        String raw;
        String human;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            // data, a second data chunk and metadata allocated in this mount: DEV_INFO and the chunk tree live
            Shell.sh("head -c 40M /dev/urandom > big && mkdir d && for i in $(seq 1 300); do echo $i > d/f$i; done"
                    + " && " + Jbtrfs.launcher() + " filesystem sync .", mnt);
            raw = Shell.sh(Jbtrfs.launcher() + " filesystem usage -b .", mnt);
            human = Shell.sh(Jbtrfs.launcher() + " filesystem usage .", mnt);
            // a user may not read the chunk tree: progs' warning, the same figures without the devices' lines
            Shell.Result user = Shell.attempt(List.of("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
                    Jbtrfs.launcher().toString(), "filesystem", "usage", "-b", mnt.toString()));
            assertEquals(0, user.exitCode(), user.output());
            String devices = "(?m)^   " + Pattern.quote(image.toAbsolutePath().normalize().toString()) + "\t.*\n";
            assertEquals("WARNING: cannot read detailed chunk info, per-device usage will not be shown, run as root\n"
                    + raw.substring(0, raw.indexOf("Unallocated:")).replaceAll(devices, ""), user.output());
        }
        Images.withKernelMount(image, mnt, "ro", () -> {
            String device = Shell.sh("findmnt -n -o SOURCE " + mnt).trim();
            String ours = image.toAbsolutePath().normalize().toString();
            assertEquals(Shell.sh("btrfs filesystem usage -b .", mnt), raw.replace(ours, device));
            assertEquals(Shell.sh("btrfs filesystem usage .", mnt), human.replace(ours, device));
            return null;
        });
        assertTrue(raw.contains("Data,single: Size:"), raw);
    }

    @Test
    void fstrim_punchesTheFreeSpaceOutOfTheImage_asManyBytesAsTheKernel_filesIntact() throws Exception {
        Jbtrfs.requireNativeMount("FITRIM");
        Prereq.requireBinary("fstrim", "apt-get install util-linux");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path before = dir.resolve("before.img");
        String sums;
        String ours;
        long blocksBefore;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            String sync = Jbtrfs.launcher() + " filesystem sync .";
            Shell.sh("head -c 64M /dev/urandom > big && for i in 1 2 3; do head -c 1M /dev/urandom > f$i; done && "
                    + sync + " && rm big && " + sync, mnt);
            sums = Shell.sh("md5sum f1 f2 f3", mnt);
            Shell.sh("cp --sparse=always " + image + " " + before);
            blocksBefore = blocks(image);
            ours = Shell.sh("fstrim -v .", mnt);
            assertEquals(sums, Shell.sh("md5sum f1 f2 f3", mnt), "the files after the trim, through our mount");
        }
        long trimmed = trimmed(ours);
        // the 64 MiB file's blocks (and any other free space) went back to the host
        assertTrue(blocksBefore - blocks(image) >= 60L << 20, "image " + blocksBefore + " -> " + blocks(image)
                + " bytes after " + ours);
        BtrfsCheck.assertCleanWithData(image, "after fstrim");
        assertEquals(sums, Images.kernelScript(image, mnt, "md5sum f1 f2 f3"),
                "the files after the trim, on the kernel");
        assertEquals(trimmed(Images.kernelScript(before, mnt, "fstrim -v .")), trimmed,
                "the kernel's fstrim of the same image");
    }

    @Test
    void fstrim_refusesAUser_andARangeShorterThanASector() throws Exception {
        Jbtrfs.requireNativeMount("FITRIM");
        Prereq.requireBinary("fstrim", "apt-get install util-linux");
        Path image = Images.mkfs(dir, null, 256);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        String script = "{ fstrim -l 1024 . 2>&1 || true; } | sed 's/.*: //'; { setpriv --reuid=1000 --regid=1000"
                + " --clear-groups fstrim . 2>&1 || true; } | sed 's/.*: //'";
        String kernel = Images.kernelScript(image, mnt, script);
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            assertEquals(kernel, Shell.sh(script, mnt));
        }
        assertTrue(kernel.contains("Invalid argument") && kernel.contains("Operation not permitted"), kernel);
    }

    /** The bytes of {@code fstrim -v}: "MNT: 251.6 MiB (263815168 bytes) trimmed". */
    static long trimmed(String line) {
        Matcher m = Pattern.compile("\\((\\d+) bytes\\) trimmed").matcher(line);
        assertTrue(m.find(), line);
        return Long.parseLong(m.group(1));
    }

    /** The bytes the host holds for a file (st_blocks). */
    static long blocks(Path file) throws Exception {
        return Long.parseLong(Shell.sh("stat -c %b " + file).trim()) * 512;
    }
}
