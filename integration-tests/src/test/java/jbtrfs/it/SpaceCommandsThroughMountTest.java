package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The space commands on a live native mount held to the kernel's view of the same image: {@code jbtrfs filesystem
 * usage} against {@code btrfs filesystem usage}.
 */
class SpaceCommandsThroughMountTest {
    @TempDir
    Path dir;

    @Test
    void filesystemUsage_printsTheKernelsFigures_rawAndHuman() throws Exception {
        Jbtrfs.requireNativeTransport("the btrfs ioctls (SPACE_INFO, DEV_INFO, TREE_SEARCH)");
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        String raw;
        String human;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            // data, a second data chunk and metadata allocated in this mount: DEV_INFO and the chunk tree live
            Shell.sh("head -c 40M /dev/urandom > big && mkdir d && for i in $(seq 1 300); do echo $i > d/f$i; done"
                    + " && " + Jbtrfs.launcher() + " filesystem sync .", mnt);
            raw = Shell.sh(Jbtrfs.launcher() + " filesystem usage -b .", mnt);
            human = Shell.sh(Jbtrfs.launcher() + " filesystem usage .", mnt);
        }
        Shell.sh("mount -o loop,ro " + image + " " + mnt);
        try {
            String device = Shell.sh("findmnt -n -o SOURCE " + mnt).trim();
            String ours = image.toAbsolutePath().normalize().toString();
            assertEquals(Shell.sh("btrfs filesystem usage -b .", mnt), raw.replace(ours, device));
            assertEquals(Shell.sh("btrfs filesystem usage .", mnt), human.replace(ours, device));
        } finally {
            Shell.sh("umount " + mnt);
        }
        assertTrue(raw.contains("Data,single: Size:"), raw);
    }
}
