package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.Errno;
import jbtrfs.format.ObjectIds;
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
    void fsCore_matchesKernel(String scenario) throws Exception {
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
    void subvolAndSubvolidOptions_showThatSubvolume() throws Exception {
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

    /**
     * A file handle's ".." (FsOperations.parentDirectory): every directory the kernel made, subvolume roots
     * included, names as parent the directory listing it; the top level's root is its own. The empty placeholder
     * a snapshot shows for a nested subvolume has no inode and is left out.
     */
    @Test
    void parentDirectory_isTheDirectoryListingIt() throws Exception {
        Path image = Images.kernelWritten(tmp, "subvolumes-snapshots", 512);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            assertEquals(ops.root(), ops.parentDirectory(ops.root()));
            List<InodeId> dirs = new ArrayList<>(List.of(ops.root()));
            int subvolumeRoots = 0;
            for (int i = 0; i < dirs.size(); i++) {
                InodeId dir = dirs.get(i);
                for (DirEntry e : ops.readdir(dir, 0, 1000)) {
                    if (e.id().objectid() == ObjectIds.EMPTY_SUBVOL_DIR || !ops.stat(e.id()).isDirectory()) continue;
                    assertEquals(dir, ops.parentDirectory(e.id()), e.name());
                    if (e.id().root() != dir.root()) subvolumeRoots++;
                    dirs.add(e.id());
                }
            }
            assertEquals(5, subvolumeRoots, "sub, sub/nested, snap, snap-ro, deep/sub2");
        }
    }
}
