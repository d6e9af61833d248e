package jbtrfs.fs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
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
import jbtrfs.device.BlockDevice;
import jbtrfs.volumes.Volume;

/**
 * The mount's scrub (BTRFS_IOC_SCRUB, SCRUB_PROGRESS, SCRUB_CANCEL): one per device at a time, each on its own
 * thread while the mount serves requests (btrfs scrub start scrubs every member of a set at once, one ioctl per
 * devid, as the kernel's). Unlike the kernel's ioctl, {@link #start} returns at once (a FUSE worker blocked for the
 * whole scrub would be a worker lost); {@link #status} answers while it runs and, with its final counters and the
 * paths of its uncorrectable data errors, after it ended (the kernel answers ENOTCONN then, and btrfs-progs keeps
 * the figures in a file of its own). Unmount cancels the running scrubs, as the kernel's does.
 */
public final class Scrubber {
    private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);

    private final Volume volume;
    private final ScrubWalk.Identity identity;
    /** Every member's size as its dev item gives it, by devid (superblock copies past it are not the filesystem's). */
    private final Map<Long, Long> deviceBytes;
    private final ScrubWalk.Trees trees;
    private final Lock fence;
    private final Lock superFence;
    private final BooleanSupplier mountReadOnly;
    private final ExtentPaths paths;
    /** The running or last scrub of each device; guarded by this. */
    private final Map<Long, Run> runs = new TreeMap<>();

    /** One device's scrub: its walk and how it ended. */
    private static final class Run {
        final ScrubWalk walk;
        final boolean readOnly;
        final long startedMillis = System.currentTimeMillis();
        ScrubStatus.State state = ScrubStatus.State.RUNNING;
        long endedMillis;
        String failure;

        Run(ScrubWalk walk, boolean readOnly) {
            this.walk = walk;
            this.readOnly = readOnly;
        }
    }

    /**
     * {@code fence} and {@code superFence} as {@link ScrubWalk} holds them; {@code deviceBytes} names every member
     * the scrub may be asked for, {@code identity} the first.
     */
    Scrubber(Volume volume, ScrubWalk.Identity identity, Map<Long, Long> deviceBytes, ScrubWalk.Trees trees,
             Lock fence, Lock superFence, BooleanSupplier mountReadOnly, ExtentPaths paths) {
        this.volume = volume;
        this.identity = identity;
        this.deviceBytes = Map.copyOf(deviceBytes);
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
                             Subvolumes subvolumes, WritableOperations writable, TransactionManager txm,
                             Members members) throws FsException {
        byte[] chunkTreeUuid = new byte[16];
        reader.read(sb.chunkRoot(), sb.chunkRootGeneration(), sb.chunkRootLevel(), ObjectIds.CHUNK_TREE).buffer()
                .get(Header.OFFSET_CHUNK_TREE_UUID, chunkTreeUuid);
        ExtentPaths paths = new ExtentPaths(reader);
        ScrubWalk.Identity id = new ScrubWalk.Identity(sb.devItem().devid(), sb.devItem().totalBytes(),
                sb.treeBlockFsid(), chunkTreeUuid, csumType, sb.nodesize(), sb.sectorsize(),
                txm == null ? sb::generation : txm::generation);
        Map<Long, Long> deviceBytes = new TreeMap<>();
        deviceBytes.put(sb.devItem().devid(), sb.devItem().totalBytes());
        for (FsInfo.Device d : members.list()) deviceBytes.put(d.devid(), d.totalBytes());
        if (writable == null) {
            return new Scrubber(volume, id, deviceBytes,
                    t -> t == ObjectIds.ROOT_TREE ? subvolumes.rootTree() : subvolumes.tree(t), new ReentrantLock(),
                    new ReentrantLock(), () -> true, paths);
        }
        volume.allowRepairs(() -> txm.aborted() == null);
        return new Scrubber(volume, id, deviceBytes, txm::committedTree, writable.commitFence(),
                writable.commitExclusion(), writable::readOnly, paths);
    }

    /**
     * This mount's scrub over other copies of its members ({@code members} by devid, e.g. in memory), repairing on
     * them as a read-write mount's scrub does: the committed trees stay this mount's, the bytes verified and written
     * are the copies' (how a set's repair is exercised while read-write opens of sets are not there).
     */
    Scrubber onMembers(Map<Long, BlockDevice> members) {
        Volume copies = new Volume(identity.devid(), members, volume.chunks());
        copies.allowRepairs(() -> true);
        return new Scrubber(copies, identity, deviceBytes, trees, fence, superFence, () -> false, paths);
    }

    /** The first device's id (a single-device image's only one). */
    public long devid() {
        return identity.devid();
    }

    /** The ids of the members present, which scrubs may name. */
    public List<Long> devids() {
        List<Long> out = new ArrayList<>();
        for (Long d : new TreeMap<>(deviceBytes).keySet()) {
            if (volume.members().containsKey(d)) out.add(d);
        }
        return out;
    }

    /**
     * Starts scrubbing the dev extents of device {@code devid} overlapping physical [{@code start}, {@code end}],
     * repairing unless {@code readOnly}: ENODEV for a device not present, EINPROGRESS while one runs on it,
     * EROFS for a repairing scrub of a read-only mount (the kernel's mnt_want_write).
     */
    public synchronized void start(long devid, long start, long end, boolean readOnly) throws FsException {
        checkDevice(devid);
        Run before = runs.get(devid);
        if (before != null && before.state == ScrubStatus.State.RUNNING) {
            throw new FsException(Errno.EINPROGRESS, "a scrub is running on device " + devid);
        }
        if (!readOnly && mountReadOnly.getAsBoolean()) {
            throw new FsException(Errno.EROFS, "a scrub that repairs needs a read-write mount (scrub read-only)");
        }
        ScrubWalk w = new ScrubWalk(volume, identity.of(devid, deviceBytes.get(devid)), trees, fence, superFence,
                readOnly, paths, start, end);
        Run run = new Run(w, readOnly);
        runs.put(devid, run);
        Thread thread = new Thread(() -> run(devid, run), "jbtrfs-scrub-" + devid);
        thread.setDaemon(true);
        thread.start();
        LOG.info("scrub started on device {}{}", devid, readOnly ? " (read-only)" : "");
    }

    private void run(long devid, Run run) {
        ScrubStatus.State end;
        String why = null;
        try {
            run.walk.run();
            end = run.walk.canceled() ? ScrubStatus.State.CANCELED : ScrubStatus.State.FINISHED;
        } catch (IOException | RuntimeException e) {
            end = ScrubStatus.State.FAILED;
            why = e.getMessage() == null ? e.toString() : e.getMessage();
            LOG.error("scrub of device {} stopped: {}", devid, why);
        }
        ScrubProgress p = run.walk.progress();
        synchronized (this) {
            run.state = end;
            run.failure = why;
            run.endedMillis = System.currentTimeMillis();
            notifyAll();
        }
        LOG.info("scrub of device {} {}: {} bytes scrubbed, {} corrected, {} uncorrectable", devid,
                end.name().toLowerCase(Locale.ROOT), p.bytesScrubbed(), p.correctedErrors(), p.uncorrectableErrors());
    }

    /** The running or last scrub of device {@code devid}: ENODEV for a device not present, ENOTCONN before any. */
    public synchronized ScrubStatus status(long devid) throws FsException {
        checkDevice(devid);
        Run run = runs.get(devid);
        if (run == null) throw new FsException(Errno.ENOTCONN, "no scrub has run on device " + devid);
        return new ScrubStatus(run.state, run.readOnly, run.walk.progress(), run.walk.uncorrectable(),
                run.startedMillis, run.endedMillis, run.failure);
    }

    /** Cancels every running scrub (as the kernel's SCRUB_CANCEL) and returns once they stopped; ENOTCONN if none. */
    public void cancel() throws FsException {
        synchronized (this) {
            if (!running()) throw new FsException(Errno.ENOTCONN, "no scrub is running");
            for (Run r : runs.values()) {
                if (r.state == ScrubStatus.State.RUNNING) r.walk.cancel();
            }
        }
        awaitEnd();
    }

    /** Waits until the running scrubs (if any) ended and returns the first device's status; ENOTCONN before any. */
    public ScrubStatus await() throws FsException {
        return await(identity.devid());
    }

    /** Waits until the running scrubs (if any) ended and returns device {@code devid}'s status. */
    public ScrubStatus await(long devid) throws FsException {
        awaitEnd();
        return status(devid);
    }

    private synchronized void awaitEnd() throws FsException {
        while (running()) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EIO, "interrupted while waiting for the scrub");
            }
        }
    }

    private boolean running() {
        return runs.values().stream().anyMatch(r -> r.state == ScrubStatus.State.RUNNING);
    }

    /** Unmount: running scrubs are canceled and waited for, before the last commit. */
    void close() {
        try {
            synchronized (this) {
                if (!running()) return;
            }
            cancel();
        } catch (FsException e) {
            LOG.debug("scrub at unmount: {}", e.getMessage());
        }
    }

    private void checkDevice(long devid) throws FsException {
        if (!deviceBytes.containsKey(devid) || !volume.members().containsKey(devid)) {
            throw new FsException(Errno.ENODEV, "no device " + devid);
        }
    }
}
