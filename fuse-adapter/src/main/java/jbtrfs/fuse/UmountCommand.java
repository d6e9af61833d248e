package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jbtrfs umount MOUNTPOINT}: unmounts and waits until the daemon has exited. */
@Command(name = "umount", description = "Unmount a jbtrfs mount and wait for its daemon to exit.")
final class UmountCommand implements Callable<Integer> {
    private static final long EXIT_TIMEOUT_S = 60;

    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountpoint;

    @Override
    public Integer call() throws Exception {
        // the mount table first: a mount whose daemon died cannot even be stat'ed (ENOTCONN), and still unmounts
        String type = MountTable.typeAt(mountpoint);
        if (type == null && !Files.isDirectory(mountpoint)) {
            throw new CliException("mountpoint does not exist: " + mountpoint);
        }
        if (type == null) throw new CliException("not mounted: " + mountpoint);
        if (!type.equals("fuse.jbtrfs")) throw new CliException(mountpoint + " is a " + type + " mount, not jbtrfs");
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        // a pid file can outlive its daemon, and the pid be reused: only a jbtrfs process is waited for
        long pid = state.readPid();
        Optional<ProcessHandle> daemon = (pid > 0 ? ProcessHandle.of(pid) : Optional.<ProcessHandle>empty())
                .filter(h -> h.info().commandLine().map(c -> c.contains("jbtrfs")).orElse(true));
        Path fusermount = Fusermount.path();
        if (fusermount == null) throw new CliException("fusermount not found: install the fuse package");
        Process p = new ProcessBuilder(fusermount.toString(), "-u", mountpoint.toAbsolutePath().toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new CliException("unmount failed: " + (out.isEmpty() ? "fusermount exit " + p.exitValue()
                    : out.lines().findFirst().orElse(out)));
        }
        if (daemon.isPresent()) {
            if (!waitForExit(daemon.get(), TimeUnit.SECONDS.toMillis(EXIT_TIMEOUT_S))) {
                throw new CliException("unmounted, but the daemon (pid " + daemon.get().pid() + ") has not exited after "
                        + EXIT_TIMEOUT_S + " s");
            }
        }
        // the daemon's own record decides, whether it was seen alive or had exited by the time this looked: one that
        // exited after its last commit while this command started recorded 0 as one that is waited for does
        int exit = pid > 0 ? state.readExit(pid) : 0;
        String reason = exit > 0 ? state.readExitReason() : null;
        state.clear(pid);
        if (exit == 0) return 0;
        if (reason != null) throw new CliException(reason + " (log " + state.logFile() + ")");
        throw new CliException(withAbort(state, daemon.isPresent()
                ? "unmounted, but the daemon (pid " + pid + ") did not shut down cleanly"
                : "unmounted, but its daemon (pid " + pid + ") had died before") + " (log " + state.logFile() + ")");
    }

    /** {@code line}, and the abort the daemon recorded before it died, if any (its changes were lost then). */
    private static String withAbort(DaemonState state, String line) {
        String abort = state.readAbort();
        return abort == null ? line : line + "; changes since the last commit were not written: " + abort;
    }

    /**
     * Waits until {@code daemon} has exited. A zombie counts as exited: the daemon is not our child, and whoever
     * reaps it (init, a container's pid 1) may take its time, while everything the daemon had to do is done.
     */
    static boolean waitForExit(ProcessHandle daemon, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        Path stat = Path.of("/proc", Long.toString(daemon.pid()), "stat");
        while (daemon.isAlive()) {
            try {
                String s = Files.readString(stat);
                // pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'
                int close = s.lastIndexOf(')');
                if (close > 0 && close + 2 < s.length() && s.charAt(close + 2) == 'Z') return true;
            } catch (IOException e) {
                return true;   // gone between the two looks
            }
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(20);
        }
        return true;
    }
}
