package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Makes images with mkfs.btrfs for tests; skips (with the reason printed) where mkfs.btrfs is missing. */
public final class Images {
    private Images() {
    }

    public static void requireMkfs() {
        Prereq.requireBinary("mkfs.btrfs", "apt-get install btrfs-progs");
    }

    /** mkfs.btrfs --rootdir {@code source} into a new sparse image of {@code sizeMiB}, with extra options. */
    public static Path mkfs(Path dir, Path source, int sizeMiB, String... options) throws IOException, InterruptedException {
        requireMkfs();
        Path image = dir.resolve("image-" + System.nanoTime() + ".img");
        try (var raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength((long) sizeMiB << 20);
        }
        List<String> cmd = new ArrayList<>(List.of("mkfs.btrfs", "-q", "-f"));
        cmd.addAll(List.of(options));
        if (source != null) {
            cmd.add("--rootdir");
            cmd.add(source.toString());
        }
        cmd.add(image.toString());
        Shell.run(cmd);
        return image;
    }

    /** Skips (printing why) unless this is root with loop devices, as kernel-written images need. */
    public static void requireRootAndLoop() {
        Prereq.requireRootAndLoop();
    }

    /** {@link #requireMkfs} and {@link #requireRootAndLoop}, and a kernel with btrfs (loaded here if need be). */
    public static void requireKernelBtrfs() {
        requireMkfs();
        requireRootAndLoop();
        Prereq.require(btrfsInKernel(), "the kernel has no btrfs (not in /proc/filesystems, modprobe failed)");
    }

    private static boolean btrfsInKernel() {
        try {
            if (Files.readString(Path.of("/proc/filesystems")).contains("btrfs")) return true;
            Shell.attempt(List.of("modprobe", "btrfs"));
            return Files.readString(Path.of("/proc/filesystems")).contains("btrfs");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** A fresh image that the kernel wrote with {@code scenario}'s script (compress-X mounts with compress-force=X). */
    public static Path kernelWritten(Path dir, String scenario, int sizeMiB) throws Exception {
        String opts = scenario.startsWith("compress-") ? ",compress-force=" + scenario.substring(9) : "";
        // no pipefail: `yes | head` ends yes with SIGPIPE by design
        return kernelWritten(dir, sizeMiB, opts, "set +o pipefail\n" + Scenarios.script(scenario));
    }

    /**
     * A fresh image that the kernel wrote: mkfs with {@code mkfsOptions}, loop mount with {@code mountOptions} (each
     * led by a comma, or empty), run {@code script} inside, unmount.
     */
    public static Path kernelWritten(Path dir, int sizeMiB, String mountOptions, String script, String... mkfsOptions)
            throws Exception {
        requireRootAndLoop();
        Path image = mkfs(dir, null, sizeMiB, mkfsOptions);
        Path mnt = Files.createTempDirectory(dir, "kernel-rw");
        Shell.sh("mount -o loop" + mountOptions + " " + image + " " + mnt);
        try {
            Shell.sh(script, mnt);
        } finally {
            Shell.sh("umount " + mnt);
            Files.delete(mnt);
        }
        return image;
    }

    /** What runs while an image is mounted. */
    public interface MountedBody<T> {
        T run() throws Exception;
    }

    /**
     * Runs {@code body} while the kernel has {@code image} loop-mounted at {@code mnt} (with ",{@code options}" when
     * not empty), and unmounts whatever it did.
     */
    public static <T> T withKernelMount(Path image, Path mnt, String options, MountedBody<T> body) throws Exception {
        Shell.sh("mount -o loop" + (options.isEmpty() ? "" : "," + options) + " " + image + " " + mnt);
        try {
            return body.run();
        } finally {
            Shell.sh("umount " + mnt);
        }
    }

    /** Runs the bash {@code script} inside {@code mnt} while the kernel has {@code image} mounted there read-write. */
    public static String kernelScript(Path image, Path mnt, String script) throws Exception {
        return withKernelMount(image, mnt, "", () -> Shell.sh(script, mnt));
    }
}
