package jbtrfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash images the log tests compare against are real ones: a log, and no commit after the script's last bare
 * sync. Needs root, loop devices, btrfs and xfs_io (CrashImages.require skips saying why).
 */
class CrashImagesTest {
    @TempDir
    Path dir;

    @Test
    void commitAfterTheBase_failsEveryTryNamingIt() throws Exception {
        // the ioctl commits as the kernel does at an fsync under load; the fsync after it leaves a log again
        IOException e = assertThrows(IOException.class, () -> CrashImages.kernelCrashed(dir, 160, """
                echo a > a; sync
                echo b > b; xfs_io -c fsync b; btrfs filesystem sync .
                echo c > c; xfs_io -c fsync c
                """));
        String fault = "the kernel committed after the base (generation ";
        assertEquals(4, e.getMessage().split(Pattern.quote(fault), -1).length - 1, e.getMessage());
    }

    @Test
    void syncsInsideTheScript_lastOneIsTheBase() throws Exception {
        Path crash = CrashImages.kernelCrashed(dir, 160, """
                echo a > a; sync
                echo b > b; xfs_io -c fsync b; sync
                echo c > c; xfs_io -c fsync c
                """);
        assertNotEquals(0, CrashImages.logRoot(crash), "the copy has a log");
        String tree = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", crash.toString()));
        assertEquals(2, tree.split(" DIR_INDEX ", -1).length - 1, "a and b committed, c in the log alone: " + tree);
    }
}
