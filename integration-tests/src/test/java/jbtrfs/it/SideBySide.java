package jbtrfs.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/** One shell script run on a fresh image mounted by the kernel, then on another mounted read-write by jbtrfs. */
final class SideBySide {
    /**
     * What the script printed on each mount, our image, and our mount's listing taken before the unmount; the
     * kernel's image last.
     */
    record Outputs(String kernel, String ours, Path ourImage, Map<String, String> ourListing, Path kernelImage) {
    }

    private SideBySide() {
    }

    /** Needs FUSE, root and loop devices (skips with the reason otherwise); images of {@code sizeMiB}. */
    static Outputs run(Path dir, String script, int sizeMiB, String... mountOptions) throws Exception {
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        Path kernelImage = Images.mkfs(Files.createDirectory(dir.resolve("kernel")), null, sizeMiB);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        String kernel = Images.kernelScript(kernelImage, mnt, script);
        Path image = Images.mkfs(Files.createDirectory(dir.resolve("ours")), null, sizeMiB);
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, mountOptions)) {
            String ours = Shell.sh(script, mnt);
            return new Outputs(kernel, ours, image, TreeListing.ofMount(mnt), kernelImage);
        }
    }
}
