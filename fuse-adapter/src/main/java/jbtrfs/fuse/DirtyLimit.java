package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.fuse.kernel.FuseLibC;
import jnr.ffi.LastError;
import jnr.ffi.Runtime;

/**
 * How much of the page cache may hold the mount's dirty pages ({@code -o dirty_limit=}). FUSE gives every mount's
 * backing device info strict_limit and a max_ratio of 1 (fs/fuse/inode.c, fuse_bdi_init): once 1% of the system's
 * dirty limit is dirty, tens of MiB, a buffered writer goes at the daemon's pace, where the kernel's Btrfs (a bdi
 * with strict_limit 0 and max_ratio 100, as every kernel filesystem's) buffers up to vm.dirty_ratio. Root may change
 * both in sysfs, next to the readahead window ({@link Readahead}); fsync, sync, close and unmount still write every
 * dirty page before they return, as they do at any limit.
 *
 * @param maxRatio the bdi's max_ratio: its share of the system's dirty limit, in percent
 * @param strict   strict_limit: the share is enforced even while the system is below its own dirty thresholds
 */
record DirtyLimit(int maxRatio, boolean strict) {
    /** What fuse_bdi_init leaves: {@code dirty_limit=fuse}, the bdi untouched. */
    static final DirtyLimit FUSE = new DirtyLimit(1, true);
    /** A kernel filesystem's bdi, the Btrfs one too: {@code dirty_limit=kernel}, the default. */
    static final DirtyLimit KERNEL = new DirtyLimit(100, false);
    private static final Logger LOG = LoggerFactory.getLogger(DirtyLimit.class);
    /** prctl(2): the calling thread and those it starts later write as an I/O flusher (root: CAP_SYS_RESOURCE). */
    private static final int PR_SET_IO_FLUSHER = 57;

    /** The value of {@code option} ("dirty_limit=kernel", "=fuse" or "=N", N percent with strict_limit). */
    static DirtyLimit parse(String option) throws CliException {
        String v = option.substring(option.indexOf('=') + 1);
        if (v.equals("kernel")) return KERNEL;
        if (v.equals("fuse")) return FUSE;
        try {
            int percent = Integer.parseInt(v);
            if (percent < 1 || percent > 100) throw new NumberFormatException();
            return new DirtyLimit(percent, true);
        } catch (NumberFormatException e) {
            throw new CliException("bad option " + option + ": dirty_limit takes kernel, fuse or a percentage of the"
                    + " system's dirty limit from 1 to 100", 2);
        }
    }

    /** Whether the mount may hold more dirty pages than FUSE lets it. */
    boolean raises() {
        return !equals(FUSE);
    }

    /**
     * Makes the calling thread, and every thread it starts from then on, an I/O flusher (PR_SET_IO_FLUSHER, which
     * needs CAP_SYS_RESOURCE): its writes to the image are then throttled by the image's own device alone
     * (PF_LOCAL_THROTTLE), not by the system's dirty pages, of which a mount past FUSE's limit may hold most. Called
     * before the filesystem starts any thread. Returns null, or why not.
     */
    static String becomeIoFlusher() {
        FuseLibC libc = FuseLibC.get();
        if (libc.prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0) return null;
        return "PR_SET_IO_FLUSHER: " + libc.strerror(LastError.getLastError(Runtime.getRuntime(libc)));
    }

    /**
     * Sets the dirty limit of the jbtrfs mount at {@code mountpoint} and says in one log line what was set, or why
     * not. {@code notFlusher} is why the daemon is no I/O flusher ({@link #becomeIoFlusher}), or null: without it
     * the daemon's own writes to the image are throttled as anyone's while the system is past its dirty limit, which
     * slows them but cannot stop them (balance_dirty_pages lets a writer through once its own device has next to
     * nothing dirty, and the image's device is written back by its own flusher).
     */
    void apply(Path mountpoint, String notFlusher) {
        String kept = "dirty pages: FUSE's limit kept (strict_limit 1, max_ratio 1): ";
        if (!raises()) {
            LOG.info(kept + "dirty_limit=fuse");
            return;
        }
        Path bdi;
        try {
            bdi = MountTable.bdiOf(mountpoint);
        } catch (IOException e) {
            LOG.warn(kept + "{}", e.getMessage());
            return;
        }
        if (bdi == null) {
            LOG.warn(kept + "{} is no jbtrfs mount in /proc/self/mountinfo", mountpoint);
            return;
        }
        if (!Files.isWritable(bdi.resolve("max_ratio")) || !Files.isWritable(bdi.resolve("strict_limit"))) {
            LOG.info(kept + "{}'s max_ratio and strict_limit are not writable (root only)", bdi);
            return;
        }
        try {
            // the ratio first: strict_limit 0 with FUSE's 1% would still cap the mount once the system is past its
            // background threshold
            Files.writeString(bdi.resolve("max_ratio"), maxRatio + "\n");
            Files.writeString(bdi.resolve("strict_limit"), (strict ? 1 : 0) + "\n");
            LOG.info("dirty pages: {} ({}: strict_limit {}, max_ratio {}); the daemon's threads {}", equals(KERNEL)
                    ? "as on a kernel filesystem" : "at most " + maxRatio + "% of the system's dirty limit", bdi,
                    strict ? 1 : 0, maxRatio, notFlusher == null ? "write as I/O flushers"
                    : "are no I/O flushers (" + notFlusher + ")");
        } catch (IOException e) {
            LOG.warn("dirty pages: setting {} failed ({}); it has strict_limit {}, max_ratio {}", bdi, e.getMessage(),
                    read(bdi.resolve("strict_limit")), read(bdi.resolve("max_ratio")));
        }
    }

    private static String read(Path knob) {
        try {
            return Files.readString(knob).trim();
        } catch (IOException e) {
            return "unreadable";
        }
    }
}
