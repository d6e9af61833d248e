package jbtrfs.fs;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Makes images with mkfs.btrfs for tests; skips (with the reason printed) where mkfs.btrfs is missing. */
final class Images {
    private Images() {
    }

    static void requireMkfs() {
        boolean present = Files.isExecutable(Path.of("/usr/sbin/mkfs.btrfs")) || Files.isExecutable(Path.of("/sbin/mkfs.btrfs"));
        if (!present) System.out.println("SKIP: mkfs.btrfs is not installed (apt-get install btrfs-progs)");
        assumeTrue(present, "mkfs.btrfs is not installed");
    }

    /** mkfs.btrfs --rootdir {@code source} into a new sparse image of {@code sizeMiB}, with extra options. */
    static Path mkfs(Path dir, Path source, int sizeMiB, String... options) throws IOException, InterruptedException {
        requireMkfs();
        Path image = dir.resolve("image-" + System.nanoTime() + ".img");
        try (var raf = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength((long) sizeMiB << 20);
        }
        List<String> cmd = new ArrayList<>(List.of("mkfs.btrfs", "-q", "-f"));
        cmd.addAll(List.of(options));
        if (source != null) {
            cmd.add("--rootdir");
            cmd.add(source.toString());
        }
        cmd.add(image.toString());
        run(cmd);
        return image;
    }

    static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + cmd);
        }
        if (p.exitValue() != 0) throw new IOException(cmd + " failed (" + p.exitValue() + "): " + out);
        return out;
    }
}
