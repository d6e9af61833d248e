package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * killSuidSgid before a user's write leaves the modes the kernel's Btrfs leaves after the same write by an
 * unprivileged member of the file's group: set-user-ID goes, set-group-ID goes where group execute is set; ctime
 * moves exactly when a bit went.
 */
class KillSuidSgidTest {
    private static final List<String> MODES = List.of("6777", "6767", "4777", "4766", "2777", "2767", "2766", "777");

    @TempDir
    Path dir;

    @Test
    void unprivilegedWrite_clearsTheBitsTheKernelClears() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        Path mnt = Files.createTempDirectory(dir, "mnt");
        StringBuilder make = new StringBuilder();
        for (String m : MODES) make.append("printf abc > f").append(m).append(" && chown 0:1000 f").append(m)
                .append(" && chmod ").append(m).append(" f").append(m).append('\n');
        Shell.sh("mount -o loop " + image + " " + mnt);
        try {
            Shell.sh(make + "sync", mnt);
        } finally {
            Shell.sh("umount " + mnt);
        }
        Path ours = dir.resolve("ours.img");
        Files.copy(image, ours, StandardCopyOption.REPLACE_EXISTING);

        List<String> kernel = new ArrayList<>();
        Shell.sh("mount -o loop " + image + " " + mnt);
        try {
            for (String m : MODES) {
                Shell.sh("setpriv --reuid=1000 --regid=1000 --clear-groups -- sh -c 'printf x >> f" + m + "'", mnt);
                kernel.add("f" + m + " " + Shell.stdout(List.of("stat", "-c", "%a", mnt + "/f" + m)).trim());
            }
        } finally {
            Shell.sh("umount " + mnt);
        }

        List<String> got = new ArrayList<>();
        try (Filesystem fs = Filesystem.open(ours, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            for (String m : MODES) {
                InodeId f = ops.lookup(ops.root(), "f" + m);
                Stat before = ops.stat(f);
                Thread.sleep(2); // a ctime that moves must be seen to move
                ops.killSuidSgid(f);
                Stat after = ops.stat(f);
                assertEquals(before.mode() != after.mode(), !before.ctime().equals(after.ctime()),
                        "ctime moves exactly when a bit goes, f" + m);
                ops.write(f, after.size(), ByteBuffer.wrap(new byte[] {'x'}));
                got.add("f" + m + " " + Integer.toOctalString(ops.stat(f).mode() & 07777));
            }
        }
        assertEquals(kernel, got);
        assertNotEquals(MODES.stream().map(m -> "f" + m + " " + m).toList(), kernel, "the kernel cleared bits");
        BtrfsCheck.assertClean(ours, "after killSuidSgid");
    }

    @Test
    void directoriesAndOtherTypes_keepTheirBits() {
        assertEquals(0, WritableOperations.removedPrivileges(Stat.S_IFDIR | 06777));
        assertEquals(06000, WritableOperations.removedPrivileges(Stat.S_IFREG | 06777));
        assertEquals(04000, WritableOperations.removedPrivileges(Stat.S_IFREG | 06767));
    }
}
