package jbtrfs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Where a background daemon leaves its pid and log, keyed by mountpoint, so {@code umount} and people find it from
 * the mountpoint alone: $XDG_RUNTIME_DIR/jbtrfs, else /run/jbtrfs as root, else /tmp/jbtrfs-UID.
 *
 * <p>Mount cycles at one mountpoint overlap: the next daemon starts while the last one's unmount still waits for
 * it (fstests generic/604 mounts 10 ms after a background unmount). So the exit record names the daemon that wrote
 * it and the next daemon leaves it alone, the pid file is removed only by the unmount of the daemon it names, and
 * every record is replaced whole (rename), never seen half written.
 */
record DaemonState(Path pidFile, Path logFile, Path metricsFile, Path exitFile, Path abortFile, Path remountFile) {

    static DaemonState forMountpoint(Path mountpoint) throws IOException {
        Path dir = stateDir();
        Files.createDirectories(dir);
        String key = hash(mountpoint.toAbsolutePath().normalize().toString());
        return new DaemonState(dir.resolve(key + ".pid"), dir.resolve(key + ".log"), dir.resolve(key + ".metrics"),
                dir.resolve(key + ".exit"), dir.resolve(key + ".abort"), dir.resolve(key + ".remount"));
    }

    private static Path stateDir() {
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isEmpty() && Files.isDirectory(Path.of(xdg))) return Path.of(xdg, "jbtrfs");
        if ("root".equals(System.getProperty("user.name")) && Files.isDirectory(Path.of("/run"))) {
            return Path.of("/run/jbtrfs");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "jbtrfs-" + System.getProperty("user.name"));
    }

    void writePid(long pid) throws IOException {
        replace(pidFile, pid + "\n");
    }

    /** The recorded daemon pid, or -1. */
    long readPid() {
        try {
            List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
            return lines.isEmpty() ? -1 : Long.parseLong(lines.get(0).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Records where the daemon serves its metrics ("host:port"), for {@code jbtrfs stats}. */
    void writeMetrics(String hostPort) throws IOException {
        Files.writeString(metricsFile, hostPort + "\n");
    }

    /** The recorded metrics address, or null. */
    String readMetrics() {
        try {
            return Files.readString(metricsFile).trim();
        } catch (IOException e) {
            return null;
        }
    }

    void clearMetrics() {
        try {
            Files.deleteIfExists(metricsFile);
        } catch (IOException ignored) {
            // stats then reports a refused connection instead of stale figures
        }
    }

    /** Records how the daemon ended (0: unmounted and closed cleanly), for {@code umount} to report. */
    void writeExit(int code) {
        writeExit(code, null);
    }

    /**
     * Records how this daemon ended and, when it failed, the one line umount prints: the code, the line (empty when
     * none) and this process's pid.
     */
    void writeExit(int code, String reason) {
        // lost, umount reports an unclean exit, which is the safe side
        record(exitFile, code + "\n" + (reason == null ? "" : oneLine(reason)) + "\n"
                + ProcessHandle.current().pid() + "\n");
    }

    /**
     * The exit code daemon {@code pid} recorded, or -1 when it recorded none (it died, or is still running): a
     * record another daemon of this mountpoint left, before or after it, is not its.
     */
    int readExit(long pid) {
        String first = line(exitFile, 0);
        String writer = line(exitFile, 2);
        try {
            if (first == null || writer == null || Long.parseLong(writer) != pid) return -1;
            return Integer.parseInt(first);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The one line the daemon left with its failed exit, or null. */
    String readExitReason() {
        return line(exitFile, 1);
    }

    /** Records that the filesystem aborted (one line), as it happens: stats shows it, umount reports it. */
    void writeAbort(String line) {
        // lost, the exit record still carries the loss to umount
        record(abortFile, oneLine(line) + "\n");
    }

    /** The recorded abort, or null when the filesystem did not abort. */
    String readAbort() {
        return line(abortFile, 0);
    }

    /**
     * Forgets the last daemon's abort (a new daemon starts). Its exit record stays: that daemon's unmount may not
     * have read it yet, and it names its writer.
     */
    void clearAbort() {
        try {
            Files.deleteIfExists(abortFile);
        } catch (IOException ignored) {
            // a stale abort line only adds a past loss to a later crash's report
        }
    }

    /**
     * What the daemon says of its mount's read-only state, for {@code jbtrfs remount}: {@link RemountWatcher}'s
     * words (one line).
     */
    void writeRemount(String line) {
        // lost, remount waits in vain and says the daemon did not answer: the safe side
        record(remountFile, oneLine(line) + "\n");
    }

    /** The daemon's last word on remounting, or null. */
    String readRemount() {
        return line(remountFile, 0);
    }

    /** Writes a record whose loss each caller has weighed: a failed write is dropped, never thrown. */
    private static void record(Path file, String text) {
        try {
            replace(file, text);
        } catch (IOException e) {
            // the caller's comment says what the loss costs
        }
    }

    /** Replaces {@code file} whole: a reader sees the old text or the new, never an empty or partial file. */
    private static void replace(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        Files.writeString(tmp, text);
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    private static String line(Path file, int index) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return lines.size() > index && !lines.get(index).isBlank() ? lines.get(index).trim() : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * Removes daemon {@code pid}'s pid and remount files, unless the pid file names another daemon by now (the next
     * mount at this mountpoint, whose unmount must still find it).
     */
    void clear(long pid) {
        if (readPid() != pid) return;
        try {
            Files.deleteIfExists(pidFile);
            Files.deleteIfExists(remountFile);
        } catch (IOException ignored) {
            // a stale pid file only costs umount a wait on a process that is gone
        }
    }

    private static String hash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
