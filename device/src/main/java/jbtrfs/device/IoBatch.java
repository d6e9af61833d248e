package jbtrfs.device;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The futures of one submitted batch, in request order, with a wait that reports every failure.
 *
 * <p>The commit path submits all of a stage's writes as one batch and calls {@link #await()}: the first
 * failure is thrown and every other failure is attached to it as suppressed, so none is dropped.
 */
public final class IoBatch {
    private final List<CompletableFuture<IoCompletion>> futures;
    /** Runs on the waiting thread the requests no engine thread has started yet; null when the engine cannot. */
    private final Runnable help;

    IoBatch(List<CompletableFuture<IoCompletion>> futures) {
        this(futures, null);
    }

    IoBatch(List<CompletableFuture<IoCompletion>> futures, Runnable help) {
        this.futures = List.copyOf(futures);
        this.help = help;
    }

    /** The futures, one per request, in submission order. */
    public List<CompletableFuture<IoCompletion>> futures() { return futures; }

    /** Number of requests in the batch. */
    public int size() { return futures.size(); }

    /**
     * Waits for every request; throws the first failure with the others suppressed. Where the engine allows it,
     * the waiting thread first runs the requests still queued itself rather than sleep while a pool thread wakes.
     */
    public List<IoCompletion> await() throws IOException {
        try {
            return await(Long.MAX_VALUE, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(e);
        }
    }

    /** Waits at most {@code timeout} for every request; throws the first failure with the others suppressed. */
    public List<IoCompletion> await(long timeout, TimeUnit unit) throws IOException, TimeoutException {
        long deadline = unit.toNanos(timeout) == Long.MAX_VALUE ? Long.MAX_VALUE
                : System.nanoTime() + unit.toNanos(timeout);
        if (help != null) help.run();
        IoCompletion[] done = new IoCompletion[futures.size()];
        IOException first = null;
        for (int i = 0; i < done.length; i++) {
            try {
                done[i] = deadline == Long.MAX_VALUE ? futures.get(i).get()
                        : futures.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted waiting for " + futures.size() + " requests");
            } catch (ExecutionException e) {
                IOException io = asIo(e.getCause());
                if (first == null) first = io; else first.addSuppressed(io);
            }
        }
        if (first != null) throw first;
        return List.of(done);
    }

    static IOException asIo(Throwable t) {
        if (t instanceof IOException io) return io;
        return new IOException(t);
    }
}
