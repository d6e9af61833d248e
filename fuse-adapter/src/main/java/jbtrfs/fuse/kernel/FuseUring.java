package jbtrfs.fuse.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code -o io_uring}: FUSE over io_uring (Linux 6.14+, protocol 7.42). The rings are set up before INIT, so that
 * FUSE_OVER_IO_URING is asked only when they exist (once granted, the kernel holds every request until each of its
 * queues, one per possible CPU, has an entry); after INIT each serving thread registers its entry. FORGET, INTERRUPT
 * and notifications stay on /dev/fuse, and so does everything when the kernel does not offer the ring: one log line
 * says why.
 */
final class FuseUring {
    private static final Logger LOG = LoggerFactory.getLogger(FuseUring.class);
    static final Path ENABLE_URING = Path.of("/sys/module/fuse/parameters/enable_uring");
    private static final Path POSSIBLE_CPUS = Path.of("/sys/devices/system/cpu/possible");
    /** The protocol minor that brought FUSE_OVER_IO_URING. */
    static final int URING_MINOR = 42;

    private final int queues;
    private final List<IoUring> rings;
    private final List<FuseUringQueue> served = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicBoolean refusalLogged = new AtomicBoolean();

    private FuseUring(int queues, List<IoUring> rings) {
        this.queues = queues;
        this.rings = rings;
    }

    /**
     * One io_uring for each of {@code threads} serving threads, at least one per queue; null, after the one line
     * saying why, when io_uring cannot be set up here.
     */
    static FuseUring prepare(int threads) {
        int queues;
        try {
            queues = possibleCpus(Files.readString(POSSIBLE_CPUS));
        } catch (IOException | IllegalArgumentException e) {
            fallBack("the possible CPUs are unknown (" + e.getMessage() + ")");
            return null;
        }
        List<IoUring> rings = new ArrayList<>();
        try {
            UringLibC libc = UringLibC.get();
            for (int i = 0; i < Math.max(threads, queues); i++) rings.add(IoUring.setup(libc, 2));
        } catch (ChannelException | LinkageError e) {
            rings.forEach(IoUring::close);
            fallBack(e.getMessage());
            return null;
        }
        return new FuseUring(queues, rings);
    }

    /** The number of CPUs in the kernel's list of possible ones ("0-3,8"): its FUSE ring has a queue for each. */
    static int possibleCpus(String list) {
        int n = 0;
        for (String range : list.trim().split(",")) {
            int dash = range.indexOf('-');
            n += dash < 0 ? Math.min(1, Integer.parseInt(range) + 1) : Integer.parseInt(range.substring(dash + 1)) - Integer.parseInt(range.substring(0, dash))
                    + 1;
        }
        if (n < 1) throw new IllegalArgumentException("no possible CPU in '" + list.trim() + "'");
        return n;
    }

    /**
     * After INIT: starts a thread per ring, round the queues, on the session's /dev/fuse fd, when the kernel
     * granted FUSE_OVER_IO_URING; otherwise closes the rings after the one line saying why. {@code fatal} gets the
     * errno of a thread that fails.
     */
    synchronized void start(FuseConnection connection, int devFd, Dispatcher dispatcher, IntConsumer fatal) {
        if ((connection.flags() & FuseAbi.OVER_IO_URING) == 0) {
            rings.forEach(IoUring::close);
            fallBack("the kernel did not offer it at INIT (" + whyNotOffered(connection.minor()) + ")");
            return;
        }
        int maxPayload = Math.max(FuseAbi.MIN_READ_BUFFER, Math.max(connection.maxWrite(),
                connection.maxPages() * 4096));
        for (int i = 0; i < rings.size(); i++) {
            FuseUringQueue q = new FuseUringQueue(rings.get(i), devFd, i % queues, dispatcher, maxPayload,
                    this::refused);
            Thread t = new Thread(() -> {
                q.run();
                if (q.exitErrno() != 0) fatal.accept(q.exitErrno());
            }, "fuse-ring-" + (i % queues) + "-" + (i / queues + 1));
            t.setDaemon(true);
            served.add(q);
            threads.add(t);
            t.start();
        }
        LOG.info("FUSE over io_uring: {} queues served by {} ring threads", queues, rings.size());
    }

    /** Waits up to {@code millis} for each ring thread, then logs how many requests came over the ring. */
    void join(long millis, long overDevFuse) throws InterruptedException {
        List<Thread> all;
        synchronized (this) {
            all = new ArrayList<>(threads);
        }
        ServingThreads.join(LOG, "FUSE ring worker", all, millis);
        if (all.isEmpty()) return;
        LOG.info("FUSE over io_uring: {} requests over the ring, {} over /dev/fuse", served(), overDevFuse);
    }

    /** Requests served over the ring so far (exact once the ring threads have ended). */
    long served() {
        synchronized (this) {
            return served.stream().mapToLong(FuseUringQueue::served).sum();
        }
    }

    private void refused(int errno) {
        if (refusalLogged.compareAndSet(false, true)) {
            fallBack("the kernel refused FUSE_IO_URING_CMD_REGISTER: " + FuseLibC.get().strerror(errno));
        }
    }

    private static String whyNotOffered(int minor) {
        if (minor < URING_MINOR) return "FUSE 7." + minor + "; the ring came with 7." + URING_MINOR;
        try {
            return ENABLE_URING + " is " + Files.readString(ENABLE_URING).trim();
        } catch (IOException e) {
            return "this kernel's fuse module has no enable_uring";
        }
    }

    private static void fallBack(String why) {
        LOG.warn("FUSE over io_uring is not used: {}; requests are read from /dev/fuse", why);
    }
}
