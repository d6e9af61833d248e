package jbtrfs.device;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every backend shares: validation, the bounded queue (a semaphore of queue-depth permits), metrics,
 * and turning a raw result into a completion or a {@link DeviceIoException}.
 *
 * <p>A backend implements {@link #start} (hand requests to the engine) and calls {@link #finish} once per
 * request with the engine's result: bytes moved, or a negative errno.
 */
abstract class QueuedBlockDevice implements BlockDevice {
    /** How long close waits for requests in flight before giving up on them. */
    private static final long CLOSE_DRAIN_NANOS = TimeUnit.SECONDS.toNanos(60);

    protected final String name;
    protected final long size;
    protected final boolean writable;
    protected final int queueDepth;
    protected final DeviceMetrics metrics;
    /** The backend's name, as {@link #backend} reports it and the meters are tagged. */
    private final String backendName;
    private final Semaphore permits;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger peakInFlight = new AtomicInteger();
    private final Object drained = new Object();
    private volatile boolean closed;
    /** The claim on the image, let go only once the last request has completed; null when none was taken. */
    private ImageLock lock;

    QueuedBlockDevice(String name, long size, boolean writable, int queueDepth, DeviceOptions options,
                      String backendName) {
        this.name = name;
        this.size = size;
        this.writable = writable;
        this.queueDepth = queueDepth;
        this.backendName = backendName;
        this.permits = new Semaphore(queueDepth);
        this.metrics = new DeviceMetrics(options.registry(), backendName, name, options.devid(),
                inFlight::get);
    }

    /** One request on its way through the engine. */
    static final class Pending {
        final IoRequest request;
        final int length;
        final CompletableFuture<IoCompletion> future = new CompletableFuture<>();
        long startNanos;
        /** Engine-specific: AIO slot index. */
        int slot = -1;
        /** Engine-specific: aligned copy used when the caller's buffer cannot go to the engine as is. */
        ByteBuffer bounce;

        /** Set by whichever thread runs the request: an engine thread, or the caller waiting for it. */
        private final AtomicBoolean claimed = new AtomicBoolean();

        Pending(IoRequest request) {
            this.request = request;
            this.length = request.length();
        }

        /** True for the one thread that may run this request. */
        boolean claim() { return claimed.compareAndSet(false, true); }
    }

    /**
     * Hands requests (each holding a queue permit) to the engine; each must reach {@link #finish} exactly once.
     * The list is reused by the caller afterwards: engines must not keep it.
     */
    abstract void start(List<Pending> batch);

    /**
     * What a thread waiting on {@code batch} may run itself: the engine's requests not yet claimed by its own
     * threads. Null (the default) when requests only run inside the engine.
     */
    Runnable helper(List<Pending> batch) { return null; }

    /** Releases the engine's resources once nothing is in flight. */
    abstract void closeEngine() throws IOException;

    /** Checks a request against the device before it takes a permit; null when it may go. */
    DeviceIoException validate(IoRequest r) {
        if (r.op() == IoRequest.Op.FLUSH) {
            return writable ? null : error(r, 0, "flush on a read-only device", Errno.EBADF);
        }
        if (r.op() == IoRequest.Op.WRITE && !writable) {
            return error(r, r.length(), "write on a read-only device", Errno.EBADF);
        }
        long off = r.offset();
        int len = r.length();
        if (off < 0 || off > size || len > size - off) {
            return error(r, len, (r.op() == IoRequest.Op.READ ? "read" : "write") + " past the end of the device (size "
                    + size + ")", Errno.ENXIO);
        }
        return null;
    }

    DeviceIoException error(IoRequest r, long length, String what, int errno) {
        return new DeviceIoException(r.op().name().toLowerCase(Locale.ROOT) + " failed on " + name + ": " + what,
                r.offset(), length, errno);
    }

    @Override
    public final CompletableFuture<IoCompletion> submit(IoRequest request) {
        // the common single-request case without the batch's lists
        Pending p = new Pending(request);
        if (admit(p, null)) {
            metrics.batch(1);
            start(List.of(p));
        }
        return p.future;
    }

    @Override
    public final IoBatch submit(List<IoRequest> requests) {
        List<CompletableFuture<IoCompletion>> futures = new ArrayList<>(requests.size());
        List<Pending> ready = new ArrayList<>(Math.min(requests.size(), queueDepth));
        List<Pending> started = new ArrayList<>(requests.size());
        for (IoRequest r : requests) {
            Pending p = new Pending(r);
            futures.add(p.future);
            if (admit(p, ready)) {
                ready.add(p);
                started.add(p);
            }
        }
        launch(ready);
        return new IoBatch(futures, helper(started));
    }

    /**
     * Takes a queue permit for a request, blocking while the queue is full; false when the request already
     * failed (closed device, invalid request, interrupted). {@code ready} holds requests admitted but not yet
     * started: they are started before blocking, or a batch larger than the queue would wait on itself.
     */
    private boolean admit(Pending p, List<Pending> ready) {
        IoRequest r = p.request;
        metrics.submitted(r.op());
        if (closed) {
            failNow(p, error(r, p.length, "device closed", Errno.ESHUTDOWN));
            return false;
        }
        DeviceIoException bad = validate(r);
        if (bad != null) {
            failNow(p, bad);
            return false;
        }
        if (!permits.tryAcquire()) {
            if (ready != null) launch(ready);
            try {
                permits.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failNow(p, error(r, p.length, "interrupted waiting for queue space", Errno.EINTR));
                return false;
            }
        }
        peakInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        if (closed) { // close began after the check above: it must not wait for a request it never sees start
            releaseSlot();
            failNow(p, error(r, p.length, "device closed", Errno.ESHUTDOWN));
            return false;
        }
        p.startNanos = System.nanoTime();
        return true;
    }

    private void launch(List<Pending> ready) {
        if (ready.isEmpty()) return;
        metrics.batch(ready.size());
        start(ready); // engines do not keep the list
        ready.clear();
    }

    private void failNow(Pending p, DeviceIoException e) {
        metrics.failed(p.request.op(), e.errno(), 0);
        p.future.completeExceptionally(e);
    }

    /**
     * Ends a started request with the engine's result: bytes moved, or {@code -errno}. A result short of the
     * request's length is an error (EIO), never silent zeros.
     */
    final void finish(Pending p, long result, String detail) {
        long nanos = System.nanoTime() - p.startNanos;
        IoRequest r = p.request;
        DeviceIoException failure = null;
        if (result < 0) {
            int errno = (int) -result;
            failure = error(r, p.length, detail != null ? detail : "errno " + errno, errno);
        } else if (r.op() != IoRequest.Op.FLUSH && result != p.length) {
            failure = error(r, p.length, "short " + r.op().name().toLowerCase(Locale.ROOT) + ": " + result + " of " + p.length
                    + " bytes" + (detail != null ? " (" + detail + ")" : ""), Errno.EIO);
        }
        // free the slot before the caller hears of it, so a completion callback can submit again at once
        releaseSlot();
        if (failure == null) {
            metrics.succeeded(r.op(), p.length, nanos);
            p.future.complete(new IoCompletion(r, p.length, nanos));
        } else {
            metrics.failed(r.op(), failure.errno(), nanos);
            p.future.completeExceptionally(failure);
        }
    }

    private void releaseSlot() {
        permits.release();
        if (inFlight.decrementAndGet() == 0 && closed) {
            synchronized (drained) {
                drained.notifyAll();
            }
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        await(submit(IoRequest.read(offset, dst)));
        dst.position(dst.limit());
    }

    @Override
    public long size() { return size; }

    @Override
    public final String backend() { return backendName; }

    @Override
    public int queueDepth() { return queueDepth; }

    @Override
    public int inFlight() { return inFlight.get(); }

    @Override
    public int takePeakInFlight() { return peakInFlight.getAndSet(inFlight.get()); }

    @Override
    public boolean writable() { return writable; }

    /** Holds {@code imageLock} until this device is closed. */
    void holdLock(ImageLock imageLock) { this.lock = imageLock; }

    /** Waits for one request and turns its failure into the {@link IOException} it carries. */
    static IoCompletion await(CompletableFuture<IoCompletion> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for I/O");
        } catch (ExecutionException e) {
            throw IoBatch.asIo(e.getCause());
        }
    }

    /** Stops taking requests, waits for those in flight, then frees the engine. Idempotent. */
    @Override
    public final void close() throws IOException {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        long deadline = System.nanoTime() + CLOSE_DRAIN_NANOS;
        synchronized (drained) {
            while (inFlight.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                try {
                    TimeUnit.NANOSECONDS.timedWait(drained, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        try {
            closeEngine();
        } finally {
            metrics.close();
            if (lock != null) lock.close();
        }
    }
}
