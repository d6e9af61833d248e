package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.testing.Images;
import jbtrfs.testing.Scenarios;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Images the kernel wrote (compression, reflinks, prealloc, holes, subvolumes and snapshots, the default
 * subvolume, churn, extrefs): our FUSE mount lists exactly what the kernel's read-only mount lists.
 */
@ExtendWith(MountPrereqs.FuseAndLoop.class)
class KernelImagesTest {
    @TempDir
    Path tmp;

    static List<String> scenarios() {
        return Scenarios.NAMES;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void ourMount_showsWhatTheKernelShows(String scenario) throws Exception {
        Path image = Images.kernelWritten(tmp, scenario, 512);
        Map<String, String> kernel = TreeListing.ofKernelMount(image, tmp, "");
        Map<String, String> ours;
        Path mnt = Files.createTempDirectory(tmp, "ours");
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            ours = TreeListing.ofMount(mnt);
        }
        assertTrue(kernel.size() > 2, "the scenario made files");
        assertEquals(List.of(), TreeListing.differences(kernel, ours, 10));
    }

    @Test
    void subvolOption_mountsThatSubvolume() throws Exception {
        Path image = Images.kernelWritten(tmp, "subvolumes-snapshots", 512);
        Map<String, String> kernel = TreeListing.ofKernelMount(image, tmp, ",subvol=sub");
        Path mnt = Files.createTempDirectory(tmp, "ours");
        try (Jbtrfs m = Jbtrfs.mount(image, mnt, "-o", "subvol=sub")) {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10));
        }
    }
}
