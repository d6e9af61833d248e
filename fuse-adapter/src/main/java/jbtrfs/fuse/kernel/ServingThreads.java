package jbtrfs.fuse.kernel;

import java.util.List;

import org.slf4j.Logger;

/** What the /dev/fuse loops and the io_uring queues share about the threads that serve them. */
final class ServingThreads {
    private ServingThreads() {
    }

    /**
     * Logs why the current serving thread stopped ({@code what} names its kind); returns the errno the session ends
     * with: the channel's, or EIO for a channel failure without one and for anything unchecked.
     */
    static int stopped(Logger log, String what, Throwable e) {
        String name = Thread.currentThread().getName();
        if (e instanceof ChannelException c) {
            log.error("{} {} stopped: {}", what, name, c.getMessage());
            return c.errno() == 0 ? FuseAbi.EIO : c.errno();
        }
        log.error("{} {} stopped", what, name, e);
        return FuseAbi.EIO;
    }

    /** Waits up to {@code millis} for each of {@code threads}; one still running is logged, not waited for longer. */
    static void join(Logger log, String what, List<Thread> threads, long millis) throws InterruptedException {
        for (Thread t : threads) {
            t.join(millis);
            if (t.isAlive()) log.warn("{} {} did not stop", what, t.getName());
        }
    }
}
