package jbtrfs.bench;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One filesystem under test: how to mount and unmount its image at the shared mountpoint, and for a FUSE side how
 * to find its daemon ({@code pidOf}, a command printing the pid, or the mount's "daemon pid N" line) and, for jbtrfs,
 * the port of its metrics endpoint (0: none), whose meters count the FUSE requests it answered.
 */
record Target(String name, String description, Path image, String mount, String umount, String pidOf,
              int metricsPort) {
    private static final Pattern DAEMON_PID = Pattern.compile("daemon pid (\\d+)");

    Target(String name, String description, Path image, String mount, String umount) {
        this(name, description, image, mount, umount, null, 0);
    }

    /** Mounts; returns the daemon's pid, or -1 for the kernel's side. */
    long mount(Path mnt) throws IOException, InterruptedException {
        String out = Sh.sh(mount.replace("$IMG", image.toString()).replace("$MNT", mnt.toString()));
        Matcher m = DAEMON_PID.matcher(out);
        if (m.find()) return Long.parseLong(m.group(1));
        if (pidOf == null) return -1;
        return Long.parseLong(Sh.sh(pidOf.replace("$IMG", image.toString())).trim());
    }

    /** Unmounts; a mount still busy (a job's last process exiting, under load) is tried again for up to 10 s. */
    void umount(Path mnt) throws IOException, InterruptedException {
        String command = "sync; " + umount.replace("$MNT", mnt.toString());
        for (int tries = 1; ; tries++) {
            try {
                Sh.sh(command);
                return;
            } catch (IOException e) {
                if (tries == 20 || !String.valueOf(e.getMessage()).contains("busy")) throw e;
                Thread.sleep(500);
            }
        }
    }

    /**
     * Waits, up to a minute, for a daemon ({@code pid}; -1 for the kernel's side) to exit after its unmount: the next
     * target's daemon listens on the same metrics port, which a daemon still closing would hold.
     */
    static void awaitExit(long pid) throws InterruptedException {
        if (pid < 0) return;
        Optional<ProcessHandle> daemon = ProcessHandle.of(pid);
        for (int i = 0; i < 600 && daemon.map(ProcessHandle::isAlive).orElse(false); i++) Thread.sleep(100);
    }

    /** Whether the mounted filesystem takes writes (a read-only mount gets n/a for the write jobs). */
    static boolean writable(Path mnt) throws InterruptedException {
        return Sh.ok("touch " + mnt + "/.probe && rm -f " + mnt + "/.probe");
    }

    /** CPU seconds (user and system) {@code pid} has used so far; 0 for the kernel's side (-1). */
    static double cpuSeconds(long pid) throws IOException {
        if (pid < 0) return 0;
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 1/100 s
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    }

    /** FUSE requests the daemon has answered so far (the sum of its per-operation meters), or -1 without metrics. */
    long fuseRequests() throws IOException {
        if (metricsPort == 0) return -1;
        long n = 0;
        try (var in = URI.create("http://127.0.0.1:" + metricsPort + "/metrics").toURL().openStream()) {
            for (String line : new String(in.readAllBytes()).split("\n")) {
                if (line.startsWith("jbtrfs_fuse_operations_seconds_count")) {
                    n += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
        }
        return n;
    }
}
