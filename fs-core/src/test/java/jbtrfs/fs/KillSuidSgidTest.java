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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * killSuidSgid before a user's write leaves the modes the kernel's Btrfs leaves after the same write by an
 * unprivileged user (uid and gid 1000): set-user-ID goes, set-group-ID goes where group execute is set, and also
 * without it when the writer is outside the file's group; ctime moves exactly when a bit went.
 */
class KillSuidSgidTest {
    private static final List<String> MODES = List.of("6777", "6767", "4777", "4766", "2777", "2767", "2766", "777");
    private static final int WRITER = 1000;

    @TempDir
    Path dir;

    /** Files of group {@code fileGroup}: 1000 makes the writer a member, 0 an outsider. */
    @ParameterizedTest(name = "file group {0}")
    @ValueSource(ints = {WRITER, 0})
    void unprivilegedWrite_clearsTheBitsTheKernelClears(int fileGroup) throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        Path mnt = Files.createTempDirectory(dir, "mnt");
        StringBuilder make = new StringBuilder();
        for (String m : MODES) make.append("printf abc > f").append(m).append(" && chown 0:").append(fileGroup)
                .append(" f").append(m).append(" && chmod ").append(m).append(" f").append(m).append('\n');
        Images.kernelScript(image, mnt, make + "sync");
        Path ours = dir.resolve("ours.img");
        Files.copy(image, ours, StandardCopyOption.REPLACE_EXISTING);

        List<String> kernel = new ArrayList<>();
        Images.withKernelMount(image, mnt, "", () -> {
            for (String m : MODES) {
                Shell.sh("setpriv --reuid=" + WRITER + " --regid=" + WRITER + " --clear-groups -- sh -c 'printf x >> f"
                        + m + "'", mnt);
                kernel.add("f" + m + " " + Shell.stdout(List.of("stat", "-c", "%a", mnt + "/f" + m)).trim());
            }
            return null;
        });

        List<String> got = new ArrayList<>();
        try (Filesystem fs = Filesystem.open(ours, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            for (String m : MODES) {
                InodeId f = ops.lookup(ops.root(), "f" + m);
                Stat before = ops.stat(f);
                Thread.sleep(2); // a ctime that moves must be seen to move
                if (fileGroup == WRITER) ops.killSuidSgid(f); // FUSE's HANDLE_KILLPRIV_V2 rule: a member
                else ops.killSuidSgid(f, new int[] {WRITER});
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
        assertEquals(0, SetIdBits.killedByWrite(Stat.S_IFDIR | 06777, 0, new int[] {1}));
        assertEquals(06000, SetIdBits.killedByWrite(Stat.S_IFREG | 06777, 0, null));
        assertEquals(04000, SetIdBits.killedByWrite(Stat.S_IFREG | 06767, 0, null));
        assertEquals(06000, SetIdBits.killedByWrite(Stat.S_IFREG | 06767, 0, new int[] {1}));
    }
}
