package jbtrfs.fuse.kernel;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A FUSE mount served over /dev/fuse by Java threads, one per channel: the first reads the session's own fd and
 * answers INIT; then the others start, each on a clone of it (FUSE_DEV_IOC_CLONE). The session ends when the mount
 * goes away (every read fails with ENODEV); the handler's destroy is then called once if DESTROY never came. With
 * {@link SessionOptions#ioUring} the requests come over io_uring instead where the kernel offers it ({@link FuseUring}).
 */
public final class KernelSession {
    private static final Logger LOG = LoggerFactory.getLogger(KernelSession.class);
    private static final long JOIN_MS = TimeUnit.SECONDS.toMillis(10);

    private final FuseChannel sessionChannel;
    private SessionOptions options;
    private final Runnable unmounter;
    private final String name;
    private final List<Thread> workers = new ArrayList<>();
    private final List<RequestLoop> loops = new ArrayList<>();
    private final List<FuseChannel> clones = new ArrayList<>();
    private final CountDownLatch firstExit = new CountDownLatch(1);
    private final AtomicInteger error = new AtomicInteger();
    private final AtomicBoolean unmounted = new AtomicBoolean();
    private volatile Dispatcher dispatcher;
    private FuseUring uring;

    KernelSession(FuseChannel sessionChannel, SessionOptions options, Runnable unmounter, String name) {
        this.sessionChannel = sessionChannel;
        this.options = options;
        this.unmounter = unmounter;
        this.name = name;
    }

    /**
     * Mounts {@code spec}: the mount is in the mount table when this returns, and every use of it waits for INIT,
     * which {@link #serve} answers (so a caller may still adjust the mount, say its readahead, in between).
     */
    public static KernelSession mount(MountSpec spec, SessionOptions options) throws IOException {
        FuseLibC libc = FuseLibC.get();
        DevFuseChannel channel = FuseMount.mount(libc, spec);
        return new KernelSession(channel, options, () -> {
            String failed = FuseMount.unmount(libc, spec.mountpoint());
            if (failed != null && !failed.isEmpty()) LOG.info("unmount of {}: {}", spec.mountpoint(), failed);
        }, spec.mountpoint().toString());
    }

    /** Starts serving with {@code handler}: the first worker answers INIT, the others start after it. */
    public synchronized void serve(FuseHandler handler) {
        if (dispatcher != null) throw new IllegalStateException("the session serves already");
        if (options.ioUring()) {
            // before INIT: FUSE_OVER_IO_URING is asked only when the rings exist
            uring = sessionChannel instanceof DevFuseChannel ? FuseUring.prepare(options.threads()) : null;
            if (uring == null) options = options.withIoUring(false);
        }
        dispatcher = new Dispatcher(handler, options, new ChannelNotifier(sessionChannel),
                new Interrupts(System::nanoTime), new OnceLog(), this::startClones, why -> fail(FuseAbi.EPROTO));
        startWorker(sessionChannel);
    }

    private synchronized void startClones(FuseConnection connection) {
        for (int i = 1; i < options.threads(); i++) {
            FuseChannel channel;
            try {
                channel = sessionChannel.cloneChannel();
                clones.add(channel);
            } catch (IOException e) {
                // an older kernel without FUSE_DEV_IOC_CLONE: the workers share the session's fd, as libfuse's do
                if (i == 1) LOG.info("workers share one channel: {}", e.getMessage());
                channel = sessionChannel;
            }
            startWorker(channel);
        }
        LOG.info("serving {} with {} FUSE workers", name, options.threads());
        if (uring != null) uring.start(connection, ((DevFuseChannel) sessionChannel).fd(), dispatcher, this::fail);
    }

    private synchronized void startWorker(FuseChannel channel) {
        RequestLoop loop = new RequestLoop(channel, dispatcher, SessionOptions.MAX_WRITE);
        Thread t = new Thread(() -> {
            try {
                loop.run();
                if (loop.exitErrno() != 0) fail(loop.exitErrno());
            } finally {
                firstExit.countDown();
            }
        }, "fuse-" + (workers.size() + 1));
        t.setDaemon(true);
        loops.add(loop);
        workers.add(t);
        t.start();
    }

    private void fail(int errno) {
        if (error.compareAndSet(0, -errno)) {
            // the other workers are blocked in reads that only the unmount releases
            unmount();
        }
    }

    /**
     * Waits until the session ends, calls the handler's destroy if DESTROY never came, and closes the channels.
     * Returns 0, or the negative errno that ended it (EIO when destroy failed).
     */
    public int await() throws InterruptedException {
        firstExit.await();
        List<Thread> all;
        synchronized (this) {
            all = new ArrayList<>(workers);
        }
        ServingThreads.join(LOG, "FUSE worker", all, JOIN_MS);
        if (uring != null) {
            long overDevFuse;
            synchronized (this) {
                overDevFuse = loops.stream().mapToLong(RequestLoop::served).sum();
            }
            uring.join(JOIN_MS, overDevFuse);
        }
        unmounted.set(true);   // gone already: a later unmount (the shutdown hook) has nothing to do
        dispatcher.destroy();
        synchronized (this) {
            clones.forEach(FuseChannel::close);
        }
        sessionChannel.close();
        if (error.get() == 0 && dispatcher.destroyFailure() != null) return -FuseAbi.EIO;
        return error.get();
    }

    /** Requests served over io_uring so far; 0 when the session reads /dev/fuse only. */
    long requestsOverRing() {
        FuseUring u;
        synchronized (this) {
            u = uring;
        }
        return u == null ? 0 : u.served();
    }

    /** Unmounts lazily, once; the workers then end and {@link #await} returns. */
    public void unmount() {
        if (unmounted.compareAndSet(false, true)) unmounter.run();
    }
}
