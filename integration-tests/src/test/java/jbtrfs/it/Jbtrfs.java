package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** Runs {@code bin/jbtrfs} from the repository under test, and holds a mount that {@link #close} unmounts. */
final class Jbtrfs implements AutoCloseable {
    private static final Pattern PID = Pattern.compile("daemon pid (\\d+)");
    private final Path mountpoint;

    private Jbtrfs(Path mountpoint) {
        this.mountpoint = mountpoint;
    }

    static Path launcher() {
        return Path.of(System.getProperty("jbtrfs.home", "..")).toAbsolutePath().normalize().resolve("bin/jbtrfs");
    }

    /**
     * A commit now, through {@code jbtrfs filesystem sync} (an fsync writes a log tree instead). Its ioctl needs the
     * native transport: a run on libfuse skips the test here, saying so.
     */
    static void commitNow(Path mnt) throws Exception {
        requireNativeTransport("a commit on demand (BTRFS_IOC_SYNC)");
        Shell.Result r = run("filesystem", "sync", mnt.toString());
        assertEquals(0, r.exitCode(), r.output());
    }

    /** The pid of the daemon serving {@code mnt}; fails the test when there is none. */
    static String daemonPid(Path mnt) throws Exception {
        String pid = Shell.sh("pgrep -f '[j]btrfs.jar mount (-f|--detached) .*" + mnt + "' | sed -n 1p").trim();
        assertTrue(!pid.isEmpty(), "no daemon for " + mnt);
        return pid;
    }

    /** After a kill of daemon {@code pid}: the dead mount detached, and the process gone. */
    static void afterKill(Path mnt, String pid) throws Exception {
        Shell.attempt(List.of("fusermount", "-u", "-z", mnt.toString()));
        Shell.sh("while kill -0 " + pid + " 2>/dev/null; do sleep 0.05; done");
    }

    /** Skips the test, saying why, when the run picked the libfuse transport (it passes no btrfs ioctl). */
    static void requireNativeTransport(String what) {
        Assumptions.assumeFalse("libfuse".equals(System.getProperty("jbtrfs.transport", "")),
                what + " needs the native FUSE transport");
    }

    /** {@link #requireNativeTransport}, FUSE, root and loop devices: what a native mount beside the kernel's needs. */
    static void requireNativeMount(String what) {
        requireNativeTransport(what);
        Prereq.requireFuse();
        Images.requireRootAndLoop();
    }

    /** Runs the launcher with {@code args}: exit code and output. */
    static Shell.Result run(String... args) throws Exception {
        return Shell.attempt(command(args));
    }

    /**
     * The launcher's command line for {@code args}. Every mount a test starts passes {@code -o transport=...} as
     * {@code -Djbtrfs.transport} says (native, the launcher's default, when unset; or libfuse), so that the whole
     * suite runs on either FUSE transport.
     */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(launcher().toString());
        if (args.length > 0 && args[0].equals("mount")) {
            cmd.add("mount");
            cmd.addAll(transportOptions());
            cmd.addAll(List.of(args).subList(1, args.length));
        } else {
            cmd.addAll(List.of(args));
        }
        return cmd;
    }

    /**
     * {@code -o transport=...} as {@code -Djbtrfs.transport} asks, native when unset. The native transport is given
     * raw_inodes: the tests compare st_ino with the kernel's, which repeats numbers across subvolumes.
     */
    static List<String> transportOptions() {
        String transport = System.getProperty("jbtrfs.transport", "");
        if (transport.isEmpty()) transport = "native";
        return List.of("-o", "transport=" + transport + (transport.equals("native") ? ",raw_inodes" : ""));
    }

    /** {@code mount} and the transport option, for a shell command line. */
    static String mountWords() {
        return String.join(" ", command("mount").subList(1, 1 + 1 + transportOptions().size()));
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

    /** Lazily unmounts what is left and kills the daemon this test started, if it still runs. */
    static void cleanUp(Path mnt, String mountOutput) throws Exception {
        if (Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " ")) {
            Shell.attempt(List.of("fusermount", "-u", "-z", mnt.toString()));
        }
        Matcher m = PID.matcher(mountOutput);
        if (m.find()) {
            ProcessHandle.of(Long.parseLong(m.group(1))).ifPresent(h -> {
                if (h.info().commandLine().map(c -> c.contains("jbtrfs")).orElse(false)) h.destroyForcibly();
            });
        }
    }

    /** The daemon's log, where DaemonState puts it for {@code mnt} (root: /run/jbtrfs). */
    static Path log(Path mnt) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(mnt.toAbsolutePath().normalize().toString()
                .getBytes(StandardCharsets.UTF_8));
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        Path dir = xdg != null && !xdg.isEmpty() && Files.isDirectory(Path.of(xdg)) ? Path.of(xdg, "jbtrfs")
                : Path.of("/run/jbtrfs");
        return dir.resolve(HexFormat.of().formatHex(d, 0, 8) + ".log");
    }

    @Override
    public void close() throws Exception {
        unmount(mountpoint);
    }

    /**
     * Unmounts {@code mnt}. A refusal as busy names the processes holding the mount (their cwd, root or open files
     * under it) on stderr and tries again twice, a second apart: under load an unmount right after a listing was
     * refused with nothing holding the mount a moment later (another process's mount namespace holding a copy, as
     * fstests' idmapped mounts do, is one cause that no /proc scan sees).
     */
    static void unmount(Path mnt) throws Exception {
        Shell.Result r = run("umount", mnt.toString());
        for (int attempt = 1; attempt < 3 && r.exitCode() != 0 && r.output().contains("busy"); attempt++) {
            System.err.println("umount of " + mnt + " refused busy; holders: " + MountHolders.of(mnt));
            System.gc(); // the test's own JVM may hold a stream it left open
            Thread.sleep(1000);
            r = run("umount", mnt.toString());
        }
        assertEquals(0, r.exitCode(), "umount failed: " + r.output() + "; holders: " + MountHolders.of(mnt));
        assertEquals(false, Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " "),
                "still mounted after umount");
    }
}
