package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /** Opens the top directory to everyone and defines user(), which runs a command as nobody (65534:65534). */
    private static final String AS_NOBODY = """
            chmod 777 .
            user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
            """;

    private SideBySide() {
    }

    /**
     * Runs {@code script}, which may call user(), on images of 256 MiB, ours mounted with allow_other so that nobody
     * reaches it; the kernel's mount must print {@code kernelShows} among its lines and ours what the kernel's printed.
     */
    static void assertSameForNobody(Path dir, String script, String kernelShows) throws Exception {
        Outputs out = run(dir, AS_NOBODY + script, 256, "-o", "allow_other");
        assertTrue(out.kernel().contains(kernelShows), out.kernel());
        assertEquals(out.kernel(), out.ours());
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
