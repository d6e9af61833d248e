package jbtrfs.fs;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Symlinks and special files in fsync logs, judged by the kernel as {@link FsyncLogNamesTest} judges names: a
 * directory fsync logs a new symlink whole (its target is its inline extent: the kernel's btrfs_log_inode always
 * logs a symlink's content) and a new fifo, device node or socket as existing, as it logs a new regular file.
 */
class FsyncLogSpecialFilesTest {
    @TempDir
    Path dir;

    @Test
    void directoryFsync_newSymlinksAndSpecialFiles_logged() throws Exception {
        new FsyncScenarios(dir).crashAndCompare("""
                mkdir d
                write d/old x
                symlink d/old-link old
                sync
                symlink d/link old
                symlink d/long-link a-target-name-longer-than-the-short-ones/with/a/few/components/in/it
                mkfifo d/fifo
                chrdev d/null
                sock d/sock
                rm d/old-link
                fsync d
                """, "/d/link", "/d/long-link", "/d/fifo", "/d/null", "/d/sock");
    }

    @Test
    void directoryFsync_newDirectoryWithASymlink_loggedWithItsEntries() throws Exception {
        new FsyncScenarios(dir).crashAndCompare("""
                mkdir d
                sync
                mkdir d/sub
                symlink d/sub/link ../target
                mkfifo d/sub/fifo
                fsync d
                """, "/d/sub/link", "/d/sub/fifo");
    }
}
