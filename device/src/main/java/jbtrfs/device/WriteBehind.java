package jbtrfs.device;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes that return once submitted, not once done: the bytes are copied into buffers of our own (aligned, for
 * O_DIRECT, and reused), so the caller may reuse its buffers at once and goes on while the device works. A read of
 * a range still being written waits for it, as does a later write over it (the engine may reorder requests), and
 * {@link #drain} waits for all of them before the caller flushes. At most {@code maxBytes} are in flight; a writer
 * past that waits. They are bulk writes ({@link IoRequest#bulk}): file data.
 *
 * <p>A failed write is remembered: a read of its range, every later write and every drain report it, so nothing
 * claims a durability it lacks.
 */
public final class WriteBehind {
    /**
     * A single write shorter than this is done at once on the caller's thread: handing it to the engine and
     * tracking it costs more than the write (4 KiB random writes ran 20% slower behind).
     */
    public static final int SMALL_WRITE = 64 << 10;

    /** Alignment of the copies: what O_DIRECT asks of buffer addresses on every common filesystem. */
    private static final int COPY_ALIGNMENT = 4096;

    private final BlockDevice device;
    private final long maxBytes;
    private final AlignedBuffers copies = new AlignedBuffers(COPY_ALIGNMENT, 16);
    /** Writes in flight by device offset; they never overlap. Guarded by this. */
    private final TreeMap<Long, Range> inFlight = new TreeMap<>();
    /** Ranges whose write failed. Guarded by this. */
    private final List<Range> failed = new ArrayList<>();
    private long bytes;
    private IOException failure;

    private record Range(long offset, long length) {
        long end() { return offset + length; }

        boolean overlaps(long from, long length) { return offset < from + length && from < end(); }
    }

    public WriteBehind(BlockDevice device, long maxBytes) {
        this.device = device;
        this.maxBytes = maxBytes;
    }

    /**
     * Submits {@code requests} (writes) and returns without waiting for them; their buffers are the caller's again
     * on return. Throws a failure already known: an earlier write's, or one of these that failed at once.
     */
    public void write(List<IoRequest> requests) throws IOException {
        if (requests.size() == 1 && requests.get(0).length() < SMALL_WRITE) {
            IoRequest r = requests.get(0);
            synchronized (this) {
                while (failure == null && overlapsInFlight(r.offset(), r.length())) waitHere();
                if (failure != null) throw failure;
            }
            device.write(r.offset(), r.buffer());
            return;
        }
        List<Range> taken = new ArrayList<>(requests.size());
        synchronized (this) {
            for (IoRequest r : requests) {
                if (r.op() != IoRequest.Op.WRITE) throw new IllegalArgumentException("not a write: " + r.op());
                Range range = new Range(r.offset(), r.length());
                while (failure == null && (overlapsInFlight(range.offset, range.length)
                        || (bytes > 0 && bytes + range.length > maxBytes))) {
                    waitHere();
                }
                if (failure != null) break;
                inFlight.put(range.offset, range);
                bytes += range.length;
                taken.add(range);
            }
            if (failure != null) {
                for (Range range : taken) done(range, null);
                throw failure;
            }
        }
        for (int i = 0; i < requests.size(); i++) {
            Range range = taken.get(i);
            ByteBuffer copy = copies.acquire((int) range.length);
            copy.put(requests.get(i).buffer().duplicate()).flip();
            device.submit(IoRequest.bulkWrite(range.offset, copy)).whenComplete((c, e) -> {
                copies.release(copy);
                done(range, e);
            });
        }
        synchronized (this) {
            if (failure != null) throw failure;
        }
    }

    /** Waits until no write in flight overlaps the range; fails when a write of it failed. */
    public void awaitRange(long offset, long length) throws IOException {
        synchronized (this) {
            if (inFlight.isEmpty() && failed.isEmpty()) return;
            while (overlapsInFlight(offset, length)) waitHere();
            for (Range f : failed) {
                if (f.overlaps(offset, length)) throw failure;
            }
        }
    }

    /** Waits for every write in flight; throws the first failure (from now on, always). */
    public synchronized void drain() throws IOException {
        while (!inFlight.isEmpty()) waitHere();
        if (failure != null) throw failure;
    }

    /** Bytes submitted and not yet done. */
    public synchronized long bytesInFlight() { return bytes; }

    private synchronized void done(Range range, Throwable error) {
        inFlight.remove(range.offset);
        bytes -= range.length;
        if (error != null) {
            failed.add(range);
            if (failure == null) {
                IOException io = IoBatch.asIo(error);
                failure = new IOException("a write behind failed: " + io.getMessage(), io);
            }
        }
        notifyAll();
    }

    private boolean overlapsInFlight(long offset, long length) {
        Map.Entry<Long, Range> before = inFlight.floorEntry(offset);
        if (before != null && before.getValue().overlaps(offset, length)) return true;
        Map.Entry<Long, Range> after = inFlight.ceilingEntry(offset);
        return after != null && after.getValue().overlaps(offset, length);
    }

    @SuppressWarnings("WaitNotInLoop") // every caller waits in a loop over its own condition
    private void waitHere() throws InterruptedIOException {
        try {
            wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for a write behind");
        }
    }
}
