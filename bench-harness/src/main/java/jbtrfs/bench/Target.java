package jbtrfs.bench;

import java.io.IOException;
import java.nio.file.Path;

/** One filesystem under test: how to mount and unmount its image at the shared mountpoint. */
record Target(String name, String description, Path image, String mount, String umount) {

    void mount(Path mnt) throws IOException, InterruptedException {
        Sh.sh(mount.replace("$IMG", image.toString()).replace("$MNT", mnt.toString()));
    }

    void umount(Path mnt) throws IOException, InterruptedException {
        Sh.sh("sync; " + umount.replace("$MNT", mnt.toString()));
    }

    /** Whether the mounted filesystem takes writes (a read-only mount gets n/a for the write jobs). */
    static boolean writable(Path mnt) throws InterruptedException {
        return Sh.ok("touch " + mnt + "/.probe && rm -f " + mnt + "/.probe");
    }
}
