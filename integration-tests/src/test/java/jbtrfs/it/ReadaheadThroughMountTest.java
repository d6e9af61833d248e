package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** The readahead window of a mount, held against the kernel's Btrfs mounting the same image. */
class ReadaheadThroughMountTest {
    @TempDir
    Path tmp;

    @Test
    void defaultWindow_isTheKernelBtrfsWindow() throws Exception {
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        Prereq.requireBinary("blkid", "apt-get install util-linux");
        Path image = Images.mkfs(tmp, null, 256);
        Path kernelMnt = Files.createDirectory(tmp.resolve("kernel"));
        // the kernel's Btrfs raises its window to at least 4 MiB; its backing device is named by the fsid in sysfs
        String fsid = Shell.run(List.of("blkid", "-s", "UUID", "-o", "value", image.toString())).trim();
        Shell.run(List.of("mount", "-o", "loop,ro", image.toString(), kernelMnt.toString()));
        String kernel;
        try {
            kernel = Files.readString(Path.of("/sys/fs/btrfs", fsid, "bdi", "read_ahead_kb")).trim();
        } finally {
            Shell.run(List.of("umount", kernelMnt.toString()));
        }
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            String device = Shell.run(List.of("mountpoint", "-d", mnt.toString())).trim();
            String ours = Files.readString(Path.of("/sys/class/bdi", device, "read_ahead_kb")).trim();
            assertEquals(kernel, ours, "read_ahead_kb of the kernel's Btrfs and of ours");
        }
    }
}
