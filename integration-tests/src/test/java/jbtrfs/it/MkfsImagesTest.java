package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeGenerator;
import jbtrfs.testing.TreeListing;

/**
 * Images made by {@code mkfs.btrfs --rootdir} over a varied tree, in every variant users make: listed through the
 * kernel's read-only loop mount and through our FUSE mount, field by field. Our mount must not change the image,
 * and btrfs check must still pass.
 */
class MkfsImagesTest {
    private static Path work;
    private static Path source;

    @BeforeAll
    static void makeSource() throws Exception {
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        work = Files.createTempDirectory("jbtrfs-mkfs-it");
        source = Files.createDirectory(work.resolve("src"));
        TreeGenerator.make(source, 2024, true);
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (work != null) Shell.sh("rm -rf " + work);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("jbtrfs.testing.MkfsVariants#arguments")
    void ourMount_showsWhatTheKernelShows(String name, String[] options) throws Exception {
        Path image = Images.mkfs(work, source, 256, options);
        Path mnt = Files.createTempDirectory(work, "mnt-" + name);
        Map<String, String> kernel = TreeListing.ofKernelMount(image, work, "");
        String before = Shell.sh("sha256sum < " + image);
        Map<String, String> ours;
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            ours = TreeListing.ofMount(mnt);
        }
        assertEquals(List.of(), TreeListing.differences(kernel, ours, 10));
        assertEquals(before, Shell.sh("sha256sum < " + image), "a read-only mount must not change the image");
        Shell.run(List.of("btrfs", "check", "--readonly", image.toString()));
        Files.delete(image);
    }
}
