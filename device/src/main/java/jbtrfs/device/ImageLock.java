package jbtrfs.device;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The claim a mount holds on its image for as long as it is mounted: an exclusive one to write, a shared one to
 * read. Two writers, or a writer and a reader, would each commit over the other's trees (or read a moving image);
 * readers may share.
 *
 * <p>A file is locked with flock(2) on a descriptor of its own. Not FileChannel.lock: that is an fcntl (POSIX)
 * record lock, which the kernel drops when the process closes any descriptor of the file (the engines open and
 * close several) and never reports as a conflict within one process; a flock belongs to the open file
 * description, so it lasts exactly as long as this descriptor, and two opens conflict even in one JVM. The kernel
 * takes no flock, so loop devices backed by the file are looked up as well. A block device is opened O_EXCL to
 * write, as the kernel opens what it mounts: that fails (EBUSY) while the kernel mounts it or another exclusive
 * opener holds it, and keeps the kernel from mounting it while we write; flock is taken on it too, so one jbtrfs
 * mount can name another.
 *
 * <p>A daemon of the same image whose unmount is done still holds it while it commits and exits: a mount then
 * waits for it, a few seconds at most, as the kernel's Btrfs waits for the old superblock to go (fstests
 * generic/604 mounts 10 ms after a background unmount); see {@link ImageHolders#onlyLeavingDaemons}. Likewise a
 * kernel loop mount just unmounted: its autoclear loop device stays attached until its last opener lets go, a
 * moment after umount returns, so a mount waits up to two seconds for a loop device that is mounted nowhere and
 * detaches itself (fstests mount cycles, a script that mounts the image with the kernel and then with us).
 *
 * <p>What it cannot see: a loop device set up, or a kernel mount made, after the check (losetup and the kernel
 * ignore flocks), and other programs writing the file without a lock.
 */
public final class ImageLock implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(ImageLock.class);
    /** How long a mount waits for a daemon of the image that is on its way out, and how often it looks again. */
    private static final long LEAVING_WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** How long a mount waits for an autoclear loop device of the image that is mounted nowhere to detach. */
    private static final long RELEASING_LOOP_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final long RETRY_MILLIS = 20;

    private final LibC libc;
    private int fd;

    private ImageLock(LibC libc, int fd) {
        this.libc = libc;
        this.fd = fd;
    }

    /**
     * Claims {@code image} for writing (exclusive) or reading (shared), or throws {@link ImageInUseException} with
     * one line naming who holds it.
     */
    public static ImageLock acquire(Path image, boolean writable) throws IOException {
        LibC libc = LibC.load();
        if (libc == null) {
            LOG.warn("{}: not locked (libc cannot be bound here): nothing stops a second mount of it", image);
            return new ImageLock(null, -1);
        }
        ImageHolders.Identity id = ImageHolders.Identity.of(image);
        boolean exclusiveOpen = id.blockDevice() && writable;
        long deadline = System.nanoTime() + LEAVING_WAIT_NANOS;
        int fd;
        while ((fd = libc.open(image.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC | (exclusiveOpen ? LibC.O_EXCL : 0),
                0)) < 0) {
            int errno = LibC.errno();
            if (errno == Errno.EBUSY && exclusiveOpen) {
                if (waitForLeavingDaemon(image, id, deadline)) continue;
                throw new ImageInUseException(ImageHolders.describeExclusiveHolder(image, id));
            }
            if (errno == Errno.ENOENT) throw new NoSuchFileException(image.toString());
            throw new IOException("cannot open " + image + " to lock it: " + libc.strerror(errno));
        }
        try {
            lock(libc, fd, image, id, writable, deadline);
            String conflict = id.blockDevice() ? blockDeviceConflict(libc, image, id, writable)
                    : loopConflict(libc, image, id, writable);
            if (conflict != null) throw new ImageInUseException(conflict);
            return new ImageLock(libc, fd);
        } catch (IOException | RuntimeException e) {
            libc.close(fd);
            throw e;
        }
    }

    private static void lock(LibC libc, int fd, Path image, ImageHolders.Identity id, boolean writable,
                             long deadline) throws IOException {
        int errno;
        do {
            if (libc.flock(fd, (writable ? LibC.LOCK_EX : LibC.LOCK_SH) | LibC.LOCK_NB) == 0) return;
            errno = LibC.errno();
        } while (errno == Errno.EAGAIN && waitForLeavingDaemon(image, id, deadline));
        if (errno == Errno.EAGAIN) throw new ImageInUseException(ImageHolders.describeLockHolders(image, id));
        // a filesystem without locks (NFS mounted nolock: ENOLCK): the loop and mount checks still run
        LOG.warn("{}: cannot flock it ({}): a second mount of it from elsewhere would not be refused", image,
                libc.strerror(errno));
    }

    /**
     * Whether to try again: the image's holders are daemons on their way out and the wait has time left; if so,
     * pauses a moment first.
     */
    private static boolean waitForLeavingDaemon(Path image, ImageHolders.Identity id, long deadline)
            throws IOException {
        if (System.nanoTime() - deadline >= 0 || !ImageHolders.onlyLeavingDaemons(image, id)) return false;
        pause("the daemon leaving " + image);
        return true;
    }

    private static void pause(String what) throws InterruptedIOException {
        try {
            Thread.sleep(RETRY_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for " + what);
        }
    }

    /**
     * Why a loop device backed by the file rules this open out, or null. Loop devices that are only on their way
     * out ({@link ImageHolders.Loop#releasing}) are waited for a bounded time; one that stays is refused then.
     */
    private static String loopConflict(LibC libc, Path image, ImageHolders.Identity id, boolean writable)
            throws IOException {
        long deadline = System.nanoTime() + RELEASING_LOOP_WAIT_NANOS;
        while (true) {
            ImageHolders.Loop holder = null;
            boolean allReleasing = true;
            for (ImageHolders.Loop loop : ImageHolders.loopsBackedBy(libc, id)) {
                // even a read-only loop device rules out writing: its reader would see a moving image
                if (!writable && !loop.writes()) continue;
                if (holder == null) holder = loop;
                allReleasing &= loop.releasing();
            }
            if (holder == null) return null;
            if (!allReleasing || System.nanoTime() - deadline >= 0) return holder.describe();
            pause(holder.device() + " to detach from " + image);
        }
    }

    /**
     * Why this open of a block device is ruled out, or null: when writing, the O_EXCL open already answered; a
     * reader is refused while the kernel mounts it read-write, or while anyone else holds it exclusively.
     */
    private static String blockDeviceConflict(LibC libc, Path device, ImageHolders.Identity id, boolean writable) {
        if (writable) return null;
        List<ImageHolders.Mount> mounts = ImageHolders.kernelMountsOf(device, id);
        if (mounts.stream().anyMatch(m -> !m.readOnly())) return ImageHolders.describeKernelMounts(mounts);
        if (!mounts.isEmpty()) return null; // read-only kernel mounts hold it exclusively and change nothing
        int probe = libc.open(device.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_EXCL, 0);
        if (probe >= 0) {
            libc.close(probe);
            return null;
        }
        return LibC.errno() == Errno.EBUSY ? ImageHolders.describeExclusiveHolder(device, id) : null;
    }

    /** Lets go of the image (closing the descriptor drops the flock and the O_EXCL claim). Idempotent. */
    @Override
    public synchronized void close() {
        if (fd >= 0) {
            libc.close(fd);
            fd = -1;
        }
    }
}
