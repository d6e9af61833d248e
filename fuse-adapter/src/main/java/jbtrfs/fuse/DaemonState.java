package jbtrfs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Where a background daemon leaves its pid and log, keyed by mountpoint, so {@code umount} and people find it from
 * the mountpoint alone: $XDG_RUNTIME_DIR/jbtrfs, else /run/jbtrfs as root, else /tmp/jbtrfs-UID.
 */
record DaemonState(Path pidFile, Path logFile, Path metricsFile) {

    static DaemonState forMountpoint(Path mountpoint) throws IOException {
        Path dir = stateDir();
        Files.createDirectories(dir);
        String key = hash(mountpoint.toAbsolutePath().normalize().toString());
        return new DaemonState(dir.resolve(key + ".pid"), dir.resolve(key + ".log"), dir.resolve(key + ".metrics"));
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
        Files.writeString(pidFile, pid + "\n");
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

    void clear() {
        try {
            Files.deleteIfExists(pidFile);
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
