package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.Errno;
import jbtrfs.testing.Images;
import jbtrfs.testing.Scenarios;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Images the Linux kernel wrote (through a loop mount, as root): what fs-core reads must equal what the kernel
 * shows for the same image, field by field (see {@link TreeListing}).
 */
class KernelWrittenImageTest {
    @TempDir
    Path tmp;

    static List<String> scenarios() {
        return Scenarios.NAMES;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void fs_core_matches_kernel(String scenario) throws Exception {
        Path image = Images.kernelWritten(tmp, scenario, 512);
        Map<String, String> kernel = TreeListing.ofKernelMount(image, tmp, "");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            Map<String, String> ours = TreeListing.ofOperations(fs.operations());
            assertTrue(kernel.size() > 2, "the scenario made files");
            assertEquals(List.of(), TreeListing.differences(kernel, ours, 10));
            assertEquals(0, fs.counters().dataChecksumFailures());
        }
    }

    @Test
    void subvol_and_subvolid_options_show_that_subvolume() throws Exception {
        Path image = Images.kernelWritten(tmp, "subvolumes-snapshots", 512);
        Map<String, String> kernel = TreeListing.ofKernelMount(image, tmp, ",subvol=deep/sub2");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults().withSubvol("/deep/sub2"))) {
            assertEquals(kernel, TreeListing.ofOperations(fs.operations()));
            long id = fs.operations().root().root();
            try (Filesystem byId = Filesystem.open(image, MountOptions.readOnlyDefaults().withSubvolid(id))) {
                assertEquals(kernel, TreeListing.ofOperations(byId.operations()));
            }
        }
        assertErrno(Errno.EINVAL,
                () -> Filesystem.open(image, MountOptions.readOnlyDefaults().withSubvol("/deep")).close());
    }
}
