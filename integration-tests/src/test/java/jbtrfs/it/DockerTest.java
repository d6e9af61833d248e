package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The Dockerfile, really built and run: the example container mounts an image bind-mounted from the host, reads
 * it and writes a listing; the host checks it against the kernel's view of the same image. With --rw, a command
 * in the container writes into the image: btrfs check and the kernel accept what it left. Then the way a user's
 * own JUnit test would start jbtrfs, through Testcontainers.
 */
class DockerTest {
    private static Path work;
    private static DockerEngine engine;

    @BeforeAll
    static void engine() throws Exception {
        Prereq.requireFuse();
        work = Files.createTempDirectory("jbtrfs-docker-it");
        engine = DockerEngine.start(work);
    }

    @AfterAll
    static void stop() throws Exception {
        if (engine != null) engine.close();
        if (work != null) Shell.sh("rm -rf " + work);
    }

    /** An image and the tree it was made from. */
    private record Made(Path image, Path source) {
    }

    private static Made image(Path dir) throws Exception {
        Path src = Files.createDirectories(work.resolve("src-" + System.nanoTime()));
        byte[] b = new byte[2_000_000];
        new Random(9).nextBytes(b);
        Files.write(src.resolve("random.bin"), b);
        Files.createDirectories(src.resolve("sub"));
        Files.writeString(src.resolve("sub/hello.txt"), "hello from the host\n");
        // the image has no locale: names must still come through as UTF-8
        Files.writeString(src.resolve("sub/unicod\u00e9-\u4e2d\u6587.txt"), "names\n");
        Files.createDirectories(dir);
        Path img = Images.mkfs(dir, src, 256);
        Path named = dir.resolve("fs.img");
        Files.move(img, named);
        return new Made(named, src);
    }

    /** sha256sum lines of every file under {@code dir}, as the example script writes them. */
    private static String listing(Path dir) throws Exception {
        return Shell.sh("cd " + dir + " && find . -type f -print0 | sort -z | xargs -0 -r sha256sum");
    }

    @Test
    void exampleContainer_readsWhatTheKernelReads() throws Exception {
        Path data = work.resolve("data");
        Path img = image(data).image();
        Shell.run(List.of("docker", "run", "--rm", "--device", "/dev/fuse", "--cap-add", "SYS_ADMIN",
                "-v", data + ":/data", "--entrypoint", "/opt/jbtrfs/example", DockerEngine.IMAGE, "/data/fs.img"));
        Path mnt = Files.createDirectories(work.resolve("kernel"));
        String kernel = Images.withKernelMount(img, mnt, "ro", () -> listing(mnt));
        assertEquals(kernel, Files.readString(data.resolve("listing.txt")));
        Shell.run(List.of("btrfs", "check", "--readonly", img.toString()));
    }

    @Test
    void exampleContainer_writesAnImageTheKernelAndBtrfsCheckAccept() throws Exception {
        Path data = work.resolve("rw");
        Path img = image(data).image();
        // a build step's output written into the image inside the container, then the container is gone
        Shell.run(List.of("docker", "run", "--rm", "--device", "/dev/fuse", "--cap-add", "SYS_ADMIN",
                "-v", data + ":/data", "--entrypoint", "/opt/jbtrfs/example", DockerEngine.IMAGE, "--rw",
                "/data/fs.img", "sh", "-c", "mkdir -p out/deep && seq 1 200000 > out/numbers"
                        + " && cp random.bin out/deep/copy && ln -s numbers out/link && rm sub/hello.txt"
                        + " && find . -type f -print0 | sort -z | xargs -0 sha256sum > /data/inside.txt"));
        Shell.run(List.of("btrfs", "check", "--readonly", img.toString()));
        Path mnt = Files.createDirectories(work.resolve("kernel-rw"));
        String kernel;
        String link;
        Shell.sh("mount -o loop,ro " + img + " " + mnt);
        try {
            kernel = listing(mnt);
            link = Files.readSymbolicLink(mnt.resolve("out/link")).toString();
        } finally {
            Shell.sh("umount " + mnt);
        }
        assertEquals(Files.readString(data.resolve("inside.txt")), kernel);
        assertTrue(kernel.contains("./out/deep/copy") && !kernel.contains("hello.txt"), kernel);
        assertEquals("numbers", link);
    }

    /** What the README shows for users: jbtrfs as a Testcontainers container in a JUnit test. */
    @Test
    void testcontainers_runJbtrfsInTheForeground() throws Exception {
        Path data = work.resolve("tc");
        Made made = image(data);
        try (GenericContainer<?> jbtrfs = new GenericContainer<>(DockerEngine.IMAGE)
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                        .withDevices(Device.parse("/dev/fuse"))
                        .withCapAdd(Capability.SYS_ADMIN))
                .withFileSystemBind(data.toString(), "/data", BindMode.READ_ONLY)
                .withCommand("mount", "-f", "--read-only", "/data/fs.img", "/mnt/jbtrfs")
                .waitingFor(Wait.forLogMessage(".*readahead.*\\n", 1).withStartupTimeout(Duration.ofSeconds(60)))) {
            jbtrfs.start();
            Container.ExecResult hello = jbtrfs.execInContainer("cat", "/mnt/jbtrfs/sub/hello.txt");
            assertEquals("hello from the host\n", hello.getStdout());
            Container.ExecResult sum = jbtrfs.execInContainer("sha256sum", "/mnt/jbtrfs/random.bin");
            assertEquals(0, sum.getExitCode(), sum.getStderr());
            String want = Shell.sh("sha256sum < " + made.source().resolve("random.bin")).split(" ")[0];
            assertTrue(sum.getStdout().startsWith(want + " "), sum.getStdout() + " vs " + want);
        }
    }
}
