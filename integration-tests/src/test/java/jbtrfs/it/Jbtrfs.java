package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.testing.Shell;

/** Runs {@code bin/jbtrfs} from the repository under test, and holds a mount that {@link #close} unmounts. */
final class Jbtrfs implements AutoCloseable {
    private final Path mountpoint;

    private Jbtrfs(Path mountpoint) {
        this.mountpoint = mountpoint;
    }

    static Path launcher() {
        return Path.of(System.getProperty("jbtrfs.home", "..")).toAbsolutePath().normalize().resolve("bin/jbtrfs");
    }

    /** Runs the launcher with {@code args}: exit code and output. */
    static Shell.Result run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(launcher().toString());
        cmd.addAll(List.of(args));
        return Shell.attempt(cmd);
    }

    /** The refusal: exit code 1 and exactly one line, "jbtrfs: ...". */
    static String refusal(String... args) throws Exception {
        Shell.Result r = run(args);
        assertEquals(1, r.exitCode(), r.output());
        List<String> lines = r.output().lines().filter(l -> !l.isBlank()).toList();
        assertEquals(1, lines.size(), "one line: " + r.output());
        assertTrue(lines.get(0).startsWith("jbtrfs: "), lines.get(0));
        return lines.get(0).substring(8);
    }

    /** {@code jbtrfs mount --read-only [extra] image mountpoint}; fails the test with the output when it fails. */
    static Jbtrfs mount(Path image, Path mountpoint, String... extra) throws Exception {
        return mount(true, image, mountpoint, extra);
    }

    /** {@code jbtrfs mount [extra] image mountpoint}, read-write; fails the test with the output when it fails. */
    static Jbtrfs mountReadWrite(Path image, Path mountpoint, String... extra) throws Exception {
        return mount(false, image, mountpoint, extra);
    }

    private static Jbtrfs mount(boolean readOnly, Path image, Path mountpoint, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("mount"));
        if (readOnly) args.add("--read-only");
        args.addAll(List.of(extra));
        args.add(image.toString());
        args.add(mountpoint.toString());
        Shell.Result r = run(args.toArray(new String[0]));
        assertEquals(0, r.exitCode(), "mount failed: " + r.output());
        return new Jbtrfs(mountpoint);
    }

    @Override
    public void close() throws Exception {
        Shell.Result r = run("umount", mountpoint.toString());
        assertEquals(0, r.exitCode(), "umount failed: " + r.output());
        assertEquals(false, Files.readString(Path.of("/proc/self/mounts")).contains(" " + mountpoint + " "),
                "still mounted after umount");
    }
}
