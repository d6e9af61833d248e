package jbtrfs.fs;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An fsync with thousands of changed items, judged by the kernel as {@link FsyncLogNamesTest} judges names: the
 * kernel has no cap on a log's items (copy_items goes leaf by leaf; only its fast path gives up past 32768 extent
 * maps), so ours logs them too where it committed past 4,096, and commits only where the log would pass
 * {@link WriteGate#LOG_BOUND}. A 1 GiB image: on 256 MiB the kernel commits at the xattrs (metadata pressure).
 */
class FsyncLogManyItemsTest {
    @TempDir
    Path dir;

    @Test
    void fileWith5000NewXattrs_fsynced_loggedWhole() throws Exception {
        new FsyncScenarios(dir, 1024).crashAndCompare("""
                mkdir d
                write d/keep x
                write d/f one
                sync
                xattrs d/f 5000
                write d/f two
                fsync d/f
                """, "/d/f");
    }
}
