package jbtrfs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import jbtrfs.fuse.kernel.FuseLibC;

/**
 * A mount that bin/jbtrfs started in the background ({@code jbtrfs mount --detached}): one JVM serves it, where a
 * second would cost a JVM start per mount. The launcher relays this process's stderr to the user until it closes;
 * everything the daemon prints goes to its log instead, and the one line for the user (mounted, or why not) goes
 * to the launcher, whose pipe then closes so that the command returns while the mount lives on.
 */
final class Detached {
    private static Detached current;

    private final FuseLibC libc;
    private final Path log;
    private int userFd;

    private Detached(FuseLibC libc, Path log, int userFd) {
        this.libc = libc;
        this.log = log;
        this.userFd = userFd;
    }

    /** Keeps stderr (the launcher's pipe) aside and points stdout and stderr at {@code log}, emptied. */
    static void start(Path log) throws CliException {
        FuseLibC libc = FuseLibC.get();
        // close-on-exec: fusermount, which libfuse starts, must not hold the launcher's pipe open
        int userFd = libc.fcntl(2, FuseLibC.F_DUPFD_CLOEXEC, 3);
        if (userFd < 0) throw new CliException("cannot keep stderr for the launcher: errno " + errno());
        int fd = libc.open(log.toString(), FuseLibC.O_WRONLY | FuseLibC.O_CREAT | FuseLibC.O_TRUNC
                | FuseLibC.O_CLOEXEC, 0644);
        if (fd < 0) throw new CliException("cannot open the log " + log + ": errno " + errno());
        if (libc.dup2(fd, 1) < 0 || libc.dup2(fd, 2) < 0) {
            throw new CliException("cannot send output to the log " + log + ": errno " + errno());
        }
        libc.close(fd);
        current = new Detached(libc, log, userFd);
    }

    /** Tells the launcher that the mount is live ({@code line}) and lets it return. */
    static void mounted(String line) {
        if (current != null) current.tell(line);
    }

    /**
     * After the command ended with {@code exitCode}: a daemon that never said it mounted tells the launcher why not,
     * in the one line its log ends with.
     */
    static void ended(int exitCode) {
        Detached d = current;
        if (d == null || d.userFd < 0) return;
        String why;
        try {
            why = MountCommand.lastProblem(d.log);
        } catch (IOException e) {
            why = "the daemon failed (log " + d.log + ")";
        }
        d.tell("jbtrfs: " + (exitCode == 0 ? "the daemon ended before the mount was live (log " + d.log + ")" : why));
    }

    private synchronized void tell(String line) {
        if (userFd < 0) return;
        byte[] b = (line + "\n").getBytes(StandardCharsets.UTF_8);
        libc.write(userFd, b, b.length);  // a launcher gone (EPIPE) has nobody left to tell
        libc.close(userFd);
        userFd = -1;
    }

    private static int errno() {
        return jnr.ffi.Runtime.getSystemRuntime().getLastError();
    }
}
