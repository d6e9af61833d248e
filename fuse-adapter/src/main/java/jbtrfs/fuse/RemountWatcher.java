package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;

/**
 * Follows the mount's read-only flag. FUSE does not tell a daemon about {@code mount -o remount,ro}, so the daemon
 * looks: when the mount turns read-only, everything written before it is committed, as the kernel's Btrfs commits
 * at remount,ro. Its words in {@link DaemonState} ({@code rw}, {@code ro committed}, {@code ro failed: why}, or
 * {@code read-only image}) tell {@code jbtrfs remount} when that commit is on disk.
 */
final class RemountWatcher implements AutoCloseable {
    static final String READ_ONLY_IMAGE = "read-only image";
    static final String RW = "rw";
    static final String RO_COMMITTED = "ro committed";
    static final String RO_FAILED = "ro failed: ";
    private static final Logger LOG = LoggerFactory.getLogger(RemountWatcher.class);
    private static final long PERIOD_MS = 200;

    private final Path mountpoint;
    private final FsOperations ops;
    private final DaemonState state;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "jbtrfs-remount-watch");
        t.setDaemon(true);
        return t;
    });
    /** Only the timer thread reads and writes it. */
    private boolean readOnly;

    private RemountWatcher(Path mountpoint, FsOperations ops, DaemonState state) {
        this.mountpoint = mountpoint;
        this.ops = ops;
        this.state = state;
    }

    /** Starts watching a live mount; an image opened read-only is only announced (it cannot turn writable). */
    static RemountWatcher start(Path mountpoint, FsOperations ops, DaemonState state) {
        RemountWatcher w = new RemountWatcher(mountpoint, ops, state);
        if (ops.readOnly()) {
            state.writeRemount(READ_ONLY_IMAGE);
        } else {
            state.writeRemount(RW);
            w.timer.scheduleWithFixedDelay(w::look, PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
        }
        return w;
    }

    private void look() {
        try {
            MountTable.Mount m = MountTable.at(mountpoint);
            if (m == null || !"fuse.jbtrfs".equals(m.type()) || m.readOnly() == readOnly) return;
            readOnly = m.readOnly();
            if (!readOnly) {
                LOG.info("{} is read-write again", mountpoint);
                state.writeRemount(RW);
                return;
            }
            LOG.info("{} was remounted read-only: committing", mountpoint);
            try {
                ops.sync();
                state.writeRemount(RO_COMMITTED);
            } catch (FsException e) {
                LOG.error("the commit at remount,ro failed: {}", e.getMessage());
                state.writeRemount(RO_FAILED + e.getMessage());
            }
        } catch (IOException | RuntimeException e) {
            // the next look tries again; remount waits for an answer and says so if none comes
            LOG.warn("could not read the mount table: {}", e.toString());
        }
    }

    /** Stops watching; a commit under way finishes first, so that it cannot run beside the unmount's. */
    @Override
    public void close() {
        timer.shutdown();
        try {
            timer.awaitTermination(5, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
