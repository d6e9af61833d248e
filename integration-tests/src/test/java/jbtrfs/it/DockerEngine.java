package jbtrfs.it;


import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * A Docker engine for tests on machines with no init system and no registry: starts dockerd when its socket does
 * not answer (and stops it after), makes the Debian base image with debootstrap when it is missing, and builds
 * our image from the repository's Dockerfile.
 */
final class DockerEngine implements AutoCloseable {
    static final String BASE_IMAGE = "jbtrfs-base:bookworm";
    static final String IMAGE = "jbtrfs:it";

    private final Process startedDaemon;

    private DockerEngine(Process startedDaemon) {
        this.startedDaemon = startedDaemon;
    }

    /** A running engine with our image built; skips (printing why) where docker cannot run. */
    static DockerEngine start(Path work) throws Exception {
        Prereq.requireBinary("docker", "apt-get install docker.io");
        Prereq.requireBinary("dockerd", "apt-get install docker.io");
        Process daemon = null;
        if (!answers()) {
            daemon = new ProcessBuilder("dockerd").redirectErrorStream(true)
                    .redirectOutput(work.resolve("dockerd.log").toFile()).start();
            for (int i = 0; i < 120 && !answers(); i++) Thread.sleep(500);
            if (!answers()) {
                daemon.destroy();
                String log = Files.readString(work.resolve("dockerd.log"));
                String last = log.lines().reduce((a, b) -> b).orElse("no output");
                Prereq.require(false, "no Docker engine can run here: dockerd did not come up (" + last + ")");
            }
        }
        DockerEngine engine = new DockerEngine(daemon);
        try {
            engine.ensureBaseImage(work);
            engine.buildImage();
        } catch (Exception e) {
            engine.close();
            throw e;
        }
        return engine;
    }

    private static boolean answers() throws Exception {
        return Shell.attempt(List.of("docker", "info")).exitCode() == 0;
    }

    private void ensureBaseImage(Path work) throws Exception {
        if (Shell.attempt(List.of("docker", "image", "inspect", BASE_IMAGE)).exitCode() == 0) return;
        Path rootfs = work.resolve("rootfs");
        Shell.run(List.of("debootstrap", "--variant=minbase", "bookworm", rootfs.toString(),
                "http://deb.debian.org/debian"));
        Shell.sh("tar -C " + rootfs + " -c . | docker import - " + BASE_IMAGE);
        Shell.sh("rm -rf " + rootfs);
    }

    /** Builds the repository's Dockerfile on the local base image, trusting this machine's extra CAs. */
    private void buildImage() throws Exception {
        Path repo = Path.of(System.getProperty("jbtrfs.home", "..")).toAbsolutePath().normalize();
        Path localCas = Path.of("/usr/local/share/ca-certificates");
        if (Files.isDirectory(localCas)) {
            try (DirectoryStream<Path> cas = Files.newDirectoryStream(localCas, "*.crt")) {
                for (Path ca : cas) {
                    Files.copy(ca, repo.resolve("docker/ca").resolve(ca.getFileName()),
                            StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        Shell.run(List.of("docker", "build", "-q", "-t", IMAGE, "--build-arg", "BASE=" + BASE_IMAGE, repo.toString()));
    }

    @Override
    public void close() throws Exception {
        if (startedDaemon != null) {
            startedDaemon.destroy();
            startedDaemon.waitFor();
        }
    }
}
