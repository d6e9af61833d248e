package jbtrfs.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Linux native AIO (io_setup / io_submit / io_getevents / io_destroy from libaio.so.1) with O_DIRECT.
 *
 * <p>Submitters call io_submit themselves (one call per batch, under a short lock that guards the shared
 * iocb pointer array); one reaper thread per device waits in io_getevents and completes the futures, so
 * completion callbacks run there. Control blocks live in native memory allocated once at open, one per queue
 * slot, and the slot number travels in {@code aio_data}. Buffers that are not direct or not aligned go through
 * an aligned bounce buffer from {@link AlignedBuffers}. Where the filesystem refuses O_DIRECT (tmpfs) the file
 * is reopened buffered, with one log line.
 */
final class AioBlockDevice extends QueuedBlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(AioBlockDevice.class);
    /** How often the reaper looks up from io_getevents to see whether the device is closing. */
    private static final long REAP_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final AtomicInteger LIVE_CONTEXTS = new AtomicInteger();
    /** aio_data of the close-time wake-up request. */
    private static final long WAKE = -1L;

    private final LibAio aio;
    private final LibC libc;
    private final int fd;
    private final boolean direct;
    private final int blockSize;
    private final long ctx;
    private final long iocbs;
    private final long iocbPointers;
    private final long events;
    private final long timespec;
    private final Pending[] bySlot;
    private final int[] freeSlots;
    private int freeCount;
    private final Object submitLock = new Object();
    private final AlignedBuffers bounces;
    private final Thread reaper;
    private volatile boolean stopping;
    /** Set when the kernel refuses IOCB_CMD_FDSYNC on this file; flushes then run fdatasync on a thread. */
    private volatile boolean fdsyncRefused;
    private volatile ExecutorService syncFlusher;

    private AioBlockDevice(String name, long size, boolean writable, DeviceOptions options, LibAio aio, LibC libc,
                           int fd, boolean direct, int blockSize, long ctx) {
        super(name, size, writable, options.queueDepth(), options, Backend.AIO.cliName());
        this.aio = aio;
        this.libc = libc;
        this.fd = fd;
        this.direct = direct;
        this.blockSize = blockSize;
        this.ctx = ctx;
        int qd = options.queueDepth();
        this.iocbs = NativeMemory.allocate((long) (qd + 1) * LibAio.IOCB_SIZE);
        this.iocbPointers = NativeMemory.allocate((long) (qd + 1) * 8);
        this.events = NativeMemory.allocate((long) qd * LibAio.EVENT_SIZE);
        this.timespec = NativeMemory.allocate(16);
        NativeMemory.putLong(timespec, REAP_TIMEOUT_NANOS / 1_000_000_000L);
        NativeMemory.putLong(timespec + 8, REAP_TIMEOUT_NANOS % 1_000_000_000L);
        this.bySlot = new Pending[qd];
        this.freeSlots = new int[qd];
        for (int i = 0; i < qd; i++) freeSlots[i] = qd - 1 - i;
        this.freeCount = qd;
        this.bounces = new AlignedBuffers(Math.max(blockSize, 4096), 64);
        this.reaper = new Thread(this::reap, "jbtrfs-aio-reaper " + name);
        reaper.setDaemon(true);
        reaper.start();
    }

    /** Whether libaio and libc can be bound on this host. */
    static boolean available() {
        return LibAio.load() != null && LibC.load() != null;
    }

    /** Native AIO contexts open right now in this JVM (tests check none leak). */
    static int liveContexts() { return LIVE_CONTEXTS.get(); }

    static AioBlockDevice open(Path path, DeviceOptions options) throws IOException {
        LibAio aio = LibAio.load();
        LibC libc = LibC.load();
        if (aio == null || libc == null) {
            throw new IOException("native AIO is not available here (needs Linux, libaio.so.1 from libaio1, jnr-ffi)");
        }
        String name = path.toString();
        boolean blockDevice = !Files.isRegularFile(path) && Files.exists(path)
                && !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS);
        int flags = (options.writable() ? LibC.O_RDWR : LibC.O_RDONLY) | LibC.O_CLOEXEC;
        boolean direct = options.directIo();
        int fd = libc.open(name, flags | (direct ? LibC.O_DIRECT : 0), 0);
        if (fd < 0) {
            int errno = LibC.errno();
            if (!direct || errno != Errno.EINVAL) throw openError(libc, name, errno);
            direct = false;
            fd = libc.open(name, flags, 0);
            if (fd < 0) throw openError(libc, name, LibC.errno());
            LOG.info("{}: the filesystem refuses O_DIRECT, using buffered I/O", name);
        }
        long ctxp = 0;
        try {
            long size = blockDevice ? ioctlLong(libc, fd, LibC.BLKGETSIZE64, name) : Files.size(path);
            int blockSize = blockDevice ? (int) ioctlInt(libc, fd, LibC.BLKSSZGET, name) : (direct ? 4096 : 512);
            if (direct && size >= blockSize && !probeDirect(libc, fd, blockSize)) {
                // some filesystems take O_DIRECT at open and refuse it at the first read
                libc.close(fd);
                fd = libc.open(name, flags, 0);
                if (fd < 0) throw openError(libc, name, LibC.errno());
                direct = false;
                blockSize = blockDevice ? blockSize : 512;
                LOG.info("{}: O_DIRECT reads fail on this filesystem, using buffered I/O", name);
            }
            ctxp = NativeMemory.allocate(8);
            int rc = aio.io_setup(options.queueDepth(), ctxp);
            if (rc < 0) {
                throw new DeviceIoException("io_setup(" + options.queueDepth() + ") failed on " + name
                        + " (see /proc/sys/fs/aio-max-nr)", 0, 0, -rc);
            }
            long ctx = NativeMemory.getLong(ctxp);
            LIVE_CONTEXTS.incrementAndGet();
            try {
                return new AioBlockDevice(name, size, options.writable(), options, aio, libc, fd, direct, blockSize, ctx);
            } catch (RuntimeException | Error e) {
                aio.io_destroy(ctx);
                LIVE_CONTEXTS.decrementAndGet();
                throw e;
            }
        } catch (IOException | RuntimeException | Error e) {
            libc.close(fd);
            throw e;
        } finally {
            NativeMemory.free(ctxp, 8);
        }
    }

    private static IOException openError(LibC libc, String name, int errno) {
        return new DeviceIoException("cannot open " + name + ": " + libc.strerror(errno), 0, 0, errno);
    }

    private static long ioctlLong(LibC libc, int fd, long request, String name) throws IOException {
        long arg = NativeMemory.allocate(8);
        try {
            if (libc.ioctl(fd, request, arg) < 0) {
                int errno = LibC.errno();
                throw new DeviceIoException("ioctl " + Long.toHexString(request) + " on " + name + ": "
                        + libc.strerror(errno), 0, 0, errno);
            }
            return NativeMemory.getLong(arg);
        } finally {
            NativeMemory.free(arg, 8);
        }
    }

    private static long ioctlInt(LibC libc, int fd, long request, String name) throws IOException {
        return ioctlLong(libc, fd, request, name) & 0xffffffffL;
    }

    private static boolean probeDirect(LibC libc, int fd, int blockSize) {
        ByteBuffer b = AlignedBuffers.allocateAligned(blockSize, 4096);
        return libc.pread(fd, NativeMemory.address(b), blockSize, 0) == blockSize;
    }

    @Override
    public int logicalBlockSize() { return blockSize; }

    @Override
    public boolean directIo() { return direct; }

    /** A hole in the image file, or BLKDISCARD on a block device, through a descriptor of its own. */
    @Override
    public void discard(long offset, long length) throws IOException {
        Discard.range(name, writable, size, offset, length);
    }

    @Override
    DeviceIoException validate(IoRequest r) {
        DeviceIoException e = super.validate(r);
        if (e == null && direct && r.op() != IoRequest.Op.FLUSH
                && ((r.offset() | r.length()) & (blockSize - 1)) != 0) {
            return error(r, r.length(), "O_DIRECT needs offset and length aligned to " + blockSize + " bytes",
                    Errno.EINVAL);
        }
        return e;
    }

    /** The read path may ask for any range; with O_DIRECT an unaligned one is read through an aligned bounce. */
    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (!direct || ((offset | length) & (blockSize - 1)) == 0 || offset < 0 || length > size - offset) {
            super.read(offset, dst);
            return;
        }
        long start = offset & -blockSize;
        long end = Math.min(size, (offset + length + blockSize - 1) & -blockSize);
        ByteBuffer b = bounces.acquire((int) (end - start));
        try {
            await(submit(IoRequest.read(start, b)));
            dst.put(b.duplicate().position((int) (offset - start)).limit((int) (offset - start) + length));
        } finally {
            bounces.release(b);
        }
    }

    @Override
    void start(List<Pending> batch) {
        synchronized (submitLock) {
            int n = 0;
            for (Pending p : batch) {
                if (p.request.op() == IoRequest.Op.FLUSH && fdsyncRefused) {
                    flushOnThread(p);
                    continue;
                }
                int slot = freeSlots[--freeCount];
                p.slot = slot;
                bySlot[slot] = p;
                long iocb = iocbs + (long) slot * LibAio.IOCB_SIZE;
                fill(iocb, slot, p);
                NativeMemory.putLong(iocbPointers + 8L * n++, iocb);
            }
            submit(n);
        }
    }

    private void fill(long iocb, int slot, Pending p) {
        IoRequest r = p.request;
        NativeMemory.putLong(iocb + LibAio.IOCB_DATA, slot);
        NativeMemory.putLong(iocb + 8, 0); // aio_key, aio_rw_flags
        NativeMemory.putInt(iocb + LibAio.IOCB_FILDES, fd);
        NativeMemory.putInt(iocb + LibAio.IOCB_OPCODE, 0); // opcode and reqprio, set below
        NativeMemory.putLong(iocb + 48, 0);
        NativeMemory.putLong(iocb + 56, 0); // aio_flags, aio_resfd
        if (r.op() == IoRequest.Op.FLUSH) {
            NativeMemory.putShort(iocb + LibAio.IOCB_OPCODE, LibAio.CMD_FDSYNC);
            NativeMemory.putLong(iocb + LibAio.IOCB_BUF, 0);
            NativeMemory.putLong(iocb + LibAio.IOCB_NBYTES, 0);
            NativeMemory.putLong(iocb + LibAio.IOCB_OFFSET, 0);
            return;
        }
        ByteBuffer buf = r.buffer();
        long address;
        if (buf.isDirect() && ((NativeMemory.address(buf) + buf.position()) & (bounces.alignment() - 1)) == 0) {
            address = NativeMemory.address(buf) + buf.position();
        } else {
            ByteBuffer b = bounces.acquire(p.length);
            if (r.op() == IoRequest.Op.WRITE) b.put(0, buf, buf.position(), p.length);
            p.bounce = b;
            address = NativeMemory.address(b);
        }
        NativeMemory.putShort(iocb + LibAio.IOCB_OPCODE,
                r.op() == IoRequest.Op.READ ? LibAio.CMD_PREAD : LibAio.CMD_PWRITE);
        NativeMemory.putLong(iocb + LibAio.IOCB_BUF, address);
        NativeMemory.putLong(iocb + LibAio.IOCB_NBYTES, p.length);
        NativeMemory.putLong(iocb + LibAio.IOCB_OFFSET, r.offset());
    }

    /** Submits the first {@code n} iocbs of the pointer array; a request the kernel refuses fails alone. */
    private void submit(int n) {
        int done = 0;
        int againSpins = 0;
        while (done < n) {
            int rc = aio.io_submit(ctx, n - done, iocbPointers + 8L * done);
            if (rc > 0) {
                done += rc;
                againSpins = 0;
            } else if (rc == -Errno.EAGAIN && againSpins++ < 1000) {
                Thread.onSpinWait(); // the ring is momentarily full: the reaper is freeing events
                yieldToReaper();
            } else {
                // the first remaining iocb was refused: fail it alone and go on with the rest
                long iocb = NativeMemory.getLong(iocbPointers + 8L * done);
                int slot = (int) NativeMemory.getLong(iocb + LibAio.IOCB_DATA);
                Pending p = takeSlot(slot);
                int errno = rc == 0 ? Errno.EIO : -rc;
                if (p.request.op() == IoRequest.Op.FLUSH && errno == Errno.EINVAL) {
                    fdsyncRefused = true;
                    LOG.info("{}: the kernel refuses IOCB_CMD_FDSYNC here, flushing with fdatasync", name);
                    flushOnThread(p);
                } else {
                    finish(p, -errno, "io_submit: errno " + errno);
                }
                done++;
            }
        }
    }

    private void flushOnThread(Pending p) {
        ExecutorService ex = syncFlusher;
        if (ex == null) {
            synchronized (this) {
                if (syncFlusher == null) {
                    syncFlusher = Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r, "jbtrfs-fdatasync " + name);
                        t.setDaemon(true);
                        return t;
                    });
                }
                ex = syncFlusher;
            }
        }
        ex.execute(() -> {
            int rc = libc.fdatasync(fd);
            finish(p, rc < 0 ? -LibC.errno() : 0, rc < 0 ? "fdatasync failed" : null);
        });
    }

    private Pending takeSlot(int slot) {
        synchronized (submitLock) {
            Pending p = bySlot[slot];
            bySlot[slot] = null;
            freeSlots[freeCount++] = slot;
            return p;
        }
    }

    private void reap() {
        while (true) {
            int n = aio.io_getevents(ctx, 1, queueDepth, events, timespec);
            boolean woken = false;
            if (n < 0) {
                if (n != -Errno.EINTR) {
                    LOG.error("{}: io_getevents failed with errno {}", name, -n);
                    sleepQuietly();
                }
            }
            for (int i = 0; i < n; i++) {
                long ev = events + (long) i * LibAio.EVENT_SIZE;
                long data = NativeMemory.getLong(ev + LibAio.EVENT_DATA);
                if (data == WAKE) {
                    woken = true;
                    continue;
                }
                int slot = (int) data;
                long res = NativeMemory.getLong(ev + LibAio.EVENT_RES);
                Pending p = slot >= 0 && slot < queueDepth ? takeSlot(slot) : null;
                if (p == null) {
                    LOG.error("{}: completion for unknown slot {} (res {})", name, slot, res);
                    continue;
                }
                ByteBuffer bounce = p.bounce;
                if (bounce != null) {
                    if (p.request.op() == IoRequest.Op.READ && res > 0) {
                        ByteBuffer dst = p.request.buffer();
                        dst.put(dst.position(), bounce, 0, (int) Math.min(res, p.length));
                    }
                    p.bounce = null;
                    bounces.release(bounce);
                }
                try {
                    finish(p, res, null);
                } catch (Throwable t) {
                    LOG.error("{}: completion callback threw", name, t);
                }
            }
            if (stopping && (n <= 0 || woken)) return;
        }
    }

    /** Submits a zero-length read tagged {@link #WAKE} so the reaper returns from io_getevents at once. */
    private void wakeReaper() {
        long iocb = iocbs + (long) queueDepth * LibAio.IOCB_SIZE;
        NativeMemory.putLong(iocb + LibAio.IOCB_DATA, WAKE);
        NativeMemory.putShort(iocb + LibAio.IOCB_OPCODE, LibAio.CMD_PREAD);
        NativeMemory.putInt(iocb + LibAio.IOCB_FILDES, fd);
        NativeMemory.putLong(iocb + LibAio.IOCB_BUF, 0);
        NativeMemory.putLong(iocb + LibAio.IOCB_NBYTES, 0);
        NativeMemory.putLong(iocb + LibAio.IOCB_OFFSET, 0);
        synchronized (submitLock) {
            long slotPointer = iocbPointers + 8L * queueDepth;
            NativeMemory.putLong(slotPointer, iocb);
            aio.io_submit(ctx, 1, slotPointer); // if refused, the reaper still wakes within its timeout
        }
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    void closeEngine() throws IOException {
        stopping = true;
        wakeReaper();
        try {
            reaper.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (syncFlusher != null) syncFlusher.shutdown();
        int rc = aio.io_destroy(ctx); // waits for anything still in flight
        LIVE_CONTEXTS.decrementAndGet();
        // finish what the drain gave up on, so no caller waits forever
        for (int slot = 0; slot < bySlot.length; slot++) {
            Pending p = bySlot[slot];
            if (p != null) {
                bySlot[slot] = null;
                finish(p, -Errno.ESHUTDOWN, "device closed with the request in flight");
            }
        }
        NativeMemory.free(iocbs, (long) (queueDepth + 1) * LibAio.IOCB_SIZE);
        NativeMemory.free(iocbPointers, (long) (queueDepth + 1) * 8);
        NativeMemory.free(events, (long) queueDepth * LibAio.EVENT_SIZE);
        NativeMemory.free(timespec, 16);
        int closed = libc.close(fd);
        if (rc < 0) throw new DeviceIoException("io_destroy failed on " + name, 0, 0, -rc);
        if (closed < 0) throw new DeviceIoException("close failed on " + name, 0, 0, LibC.errno());
    }

    /** Lets the reaper run while the ring is full: a yield, not a sleep, since it frees events within microseconds. */
    @SuppressWarnings("ThreadPriorityCheck")
    private static void yieldToReaper() {
        Thread.yield();
    }
}
