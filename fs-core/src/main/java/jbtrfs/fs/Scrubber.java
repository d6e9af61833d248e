package jbtrfs.fs;

import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.format.Header;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.tx.TransactionManager;
import jbtrfs.volumes.Volume;

/**
 * The mount's scrub (BTRFS_IOC_SCRUB, SCRUB_PROGRESS, SCRUB_CANCEL): one at a time, on its own thread while the
 * mount serves requests. Unlike the kernel's ioctl, {@link #start} returns at once (a FUSE worker blocked for the
 * whole scrub would be a worker lost); {@link #status} answers while it runs and, with its final counters and the
 * paths of its uncorrectable data errors, after it ended (the kernel answers ENOTCONN then, and btrfs-progs keeps
 * the figures in a file of its own). Unmount cancels a running scrub, as the kernel's does.
 */
public final class Scrubber {
    private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);

    private final Volume volume;
    private final ScrubWalk.Identity identity;
    private final ScrubWalk.Trees trees;
    private final Lock fence;
    private final Lock superFence;
    private final BooleanSupplier mountReadOnly;
    private final ExtentPaths paths;
    /** The running or last scrub, null before the first; guarded by this. */
    private ScrubWalk walk;
    private Thread thread;
    private ScrubStatus.State state;
    private boolean readOnly;
    private long startedMillis;
    private long endedMillis;
    private String failure;

    /** {@code fence} and {@code superFence} as {@link ScrubWalk} holds them. */
    Scrubber(Volume volume, ScrubWalk.Identity identity, ScrubWalk.Trees trees, Lock fence, Lock superFence,
             BooleanSupplier mountReadOnly, ExtentPaths paths) {
        this.volume = volume;
        this.identity = identity;
        this.trees = trees;
        this.fence = fence;
        this.superFence = superFence;
        this.mountReadOnly = mountReadOnly;
        this.paths = paths;
    }

    /**
     * The mount's scrub: on a read-write mount it reads the trees of the last commit under the readers' lock (so
     * no commit moves them meanwhile) and repairs, as reads do, while the mount has not aborted; on a read-only one
     * it reads the image's trees and only reports.
     */
    static Scrubber forMount(SuperBlock sb, ChecksumType csumType, Volume volume, TreeBlockReader reader,
                                   Subvolumes subvolumes, WritableOperations writable, TransactionManager txm)
            throws FsException {
        byte[] chunkTreeUuid = new byte[16];
        reader.read(sb.chunkRoot(), sb.chunkRootGeneration(), sb.chunkRootLevel(), ObjectIds.CHUNK_TREE).buffer()
                .get(Header.OFFSET_CHUNK_TREE_UUID, chunkTreeUuid);
        ExtentPaths paths = new ExtentPaths(reader);
        ScrubWalk.Identity id = new ScrubWalk.Identity(sb.devItem().devid(), sb.devItem().totalBytes(),
                sb.treeBlockFsid(), chunkTreeUuid, csumType, sb.nodesize(), sb.sectorsize(),
                txm == null ? sb::generation : txm::generation);
        if (writable == null) {
            return new Scrubber(volume, id, t -> t == ObjectIds.ROOT_TREE ? subvolumes.rootTree() : subvolumes.tree(t),
                    new ReentrantLock(), new ReentrantLock(), () -> true, paths);
        }
        volume.allowRepairs(() -> txm.aborted() == null);
        return new Scrubber(volume, id, txm::committedTree, writable.commitFence(), writable.commitExclusion(),
                writable::readOnly, paths);
    }

    /** The device's id (scrubs name it, as the ioctl's devid). */
    public long devid() {
        return identity.devid();
    }

    /**
     * Starts scrubbing the dev extents of device {@code devid} overlapping physical [{@code start}, {@code end}],
     * repairing unless {@code readOnly}: ENODEV for another device, EINPROGRESS while one runs, EROFS for a
     * repairing scrub of a read-only mount (the kernel's mnt_want_write).
     */
    public synchronized void start(long devid, long start, long end, boolean readOnly) throws FsException {
        checkDevice(devid);
        if (volume.chunks().chunks().stream().anyMatch(c -> c.item().stripes().stream()
                .anyMatch(s -> s.devid() != identity.devid()))) {
            // the walk knows one device's dev extents; a set's other members would go unchecked
            throw new FsException(Errno.EOPNOTSUPP, "scrub of a multi-device filesystem is not supported yet");
        }
        if (state == ScrubStatus.State.RUNNING) throw new FsException(Errno.EINPROGRESS, "a scrub is running");
        if (!readOnly && mountReadOnly.getAsBoolean()) {
            throw new FsException(Errno.EROFS, "a scrub that repairs needs a read-write mount (scrub read-only)");
        }
        ScrubWalk w = new ScrubWalk(volume, identity, trees, fence, superFence, readOnly, paths, start, end);
        walk = w;
        this.readOnly = readOnly;
        state = ScrubStatus.State.RUNNING;
        failure = null;
        startedMillis = System.currentTimeMillis();
        endedMillis = 0;
        thread = new Thread(() -> run(w), "jbtrfs-scrub");
        thread.setDaemon(true);
        thread.start();
        LOG.info("scrub started on device {}{}", devid, readOnly ? " (read-only)" : "");
    }

    private void run(ScrubWalk w) {
        ScrubStatus.State end;
        String why = null;
        try {
            w.run();
            end = w.canceled() ? ScrubStatus.State.CANCELED : ScrubStatus.State.FINISHED;
        } catch (IOException | RuntimeException e) {
            end = ScrubStatus.State.FAILED;
            why = e.getMessage() == null ? e.toString() : e.getMessage();
            LOG.error("scrub stopped: {}", why);
        }
        ScrubProgress p = w.progress();
        synchronized (this) {
            state = end;
            failure = why;
            endedMillis = System.currentTimeMillis();
            notifyAll();
        }
        LOG.info("scrub {}: {} bytes scrubbed, {} corrected, {} uncorrectable", end.name().toLowerCase(Locale.ROOT),
                p.bytesScrubbed(), p.correctedErrors(), p.uncorrectableErrors());
    }

    /** The running or last scrub of device {@code devid}: ENODEV for another device, ENOTCONN before any. */
    public synchronized ScrubStatus status(long devid) throws FsException {
        checkDevice(devid);
        if (walk == null) throw new FsException(Errno.ENOTCONN, "no scrub has run on this mount");
        return new ScrubStatus(state, readOnly, walk.progress(), walk.uncorrectable(), startedMillis, endedMillis,
                failure);
    }

    /** Cancels the running scrub and returns once it stopped; ENOTCONN when none runs. */
    public void cancel() throws FsException {
        synchronized (this) {
            if (state != ScrubStatus.State.RUNNING) throw new FsException(Errno.ENOTCONN, "no scrub is running");
            walk.cancel();
        }
        awaitEnd();
    }

    /** Waits until the running scrub (if any) ended and returns its status; ENOTCONN before any. */
    public ScrubStatus await() throws FsException {
        awaitEnd();
        return status(identity.devid());
    }

    private synchronized void awaitEnd() throws FsException {
        while (state == ScrubStatus.State.RUNNING) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EIO, "interrupted while waiting for the scrub");
            }
        }
    }

    /** Unmount: a running scrub is canceled and waited for, before the last commit. */
    void close() {
        try {
            synchronized (this) {
                if (state != ScrubStatus.State.RUNNING) return;
            }
            cancel();
        } catch (FsException e) {
            LOG.debug("scrub at unmount: {}", e.getMessage());
        }
    }

    private void checkDevice(long devid) throws FsException {
        if (devid != identity.devid()) throw new FsException(Errno.ENODEV, "no device " + devid);
    }
}
