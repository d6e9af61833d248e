package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.CrashImages;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Images the kernel left with a log (a copy taken while mounted with commit=300, after fsyncs): our read-only mount
 * replays the log in memory and shows what the kernel shows after its replay, leaving the image's bytes as they
 * were; our read-write mount shows the same, and afterwards log_root is 0 and btrfs check is clean. nologreplay and
 * a damaged log show the last commit, as the kernel's ro,rescue=nologreplay does.
 */
class LogReplayThroughMountTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void prerequisites() {
        Prereq.requireFuse();
        CrashImages.require();
    }

    static List<String> scenarios() {
        return List.copyOf(CrashImages.SCENARIOS.keySet());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void crashImage_readOnlyAndReadWriteMountsShowTheKernelsReplay(String scenario) throws Exception {
        Path crash = CrashImages.kernelCrashed(tmp, scenario);
        Map<String, String> kernel = CrashImages.kernelReplayed(crash, tmp);
        assertTrue(kernel.size() > 1, "the scenario made files");
        String before = TreeListing.sha256(crash);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (Jbtrfs m = Jbtrfs.mount(crash, mnt)) {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10), "read-only");
        }
        assertEquals(before, TreeListing.sha256(crash), "the read-only mount changed the image");
        try (Jbtrfs m = Jbtrfs.mountReadWrite(crash, mnt)) {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10), "read-write");
        }
        assertEquals(0, CrashImages.logRoot(crash), "log_root after our read-write mount");
        BtrfsCheck.assertCleanWithData(crash, scenario + " after our replay");
    }

    @Test
    void noLogReplay_readOnlyShowsTheLastCommit_readWriteRefused() throws Exception {
        Path crash = CrashImages.kernelCrashed(tmp, "appends");
        Map<String, String> kernel = CrashImages.kernelLastCommit(crash, tmp);
        String before = TreeListing.sha256(crash);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (Jbtrfs m = Jbtrfs.mount(crash, mnt, "-o", "nologreplay")) {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10));
        }
        Shell.Result rw = Jbtrfs.run("mount", "-o", "nologreplay", crash.toString(), mnt.toString());
        assertEquals(2, rw.exitCode(), rw.output());
        assertEquals("jbtrfs: nologreplay needs a read-only mount (--read-only or -o ro)", rw.output().strip());
        assertEquals(before, TreeListing.sha256(crash), "the image changed");
    }

    @Test
    void damagedLog_readOnlyShowsTheLastCommit_readWriteRefusedInOneLine() throws Exception {
        Path crash = CrashImages.kernelCrashed(tmp, "new-files");
        long logTree = CrashImages.damageFirstLogTree(crash);
        Map<String, String> kernel = CrashImages.kernelLastCommit(crash, tmp);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        assertEquals("the log tree cannot be replayed: the log tree of subvolume 5 cannot be read: corrupt tree block "
                + logTree + " (root -6): crc32c checksum mismatch (all 2 copies bad); mount it with -o "
                + "nologreplay,ro to see the last commit", Jbtrfs.refusal("mount", crash.toString(), mnt.toString()));
        String before = TreeListing.sha256(crash);
        try (Jbtrfs m = Jbtrfs.mount(crash, mnt)) {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10));
        }
        assertFalse(kernel.containsKey("/d/new1"), "the fsync'd file is not in the last commit");
        assertEquals(before, TreeListing.sha256(crash), "the read-only mount changed the image");
    }
}
