package jbtrfs.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/**
 * A device in memory for tests, with a write cache that only a completed flush empties, injected faults
 * ({@link FaultPlan}) and a power cut.
 *
 * <p>Durability model (that of a disk with a volatile cache): a write, once completed, is visible to reads
 * but durable only after a flush that was submitted after the write completed has itself completed.
 * {@link #powerCut(long)} keeps the durable image and, for every other write (completed or still in flight),
 * chooses under the seed to drop it, keep it, or tear it: each 4 KiB physical sector kept or lost on its own.
 *
 * <p>Requests run on one scheduler thread after the plan's latency, so many are in flight at once.
 *
 * <p>Content is held in {@link SparseBytes}: pages never written with data cost nothing, so images of a few GiB
 * that are mostly empty fit in tests.
 */
public final class MemoryBlockDevice extends QueuedBlockDevice {
    /** The logical block size the device reports. */
    public static final int SECTOR = 512;
    /**
     * Torn writes are torn at this granularity: the physical sector a disk writes atomically (4 KiB on today's
     * drives). Btrfs relies on it: the kernel and btrfs check read only the primary superblock, 4 KiB, so a torn
     * one would make any filesystem unmountable, the kernel's as ours.
     */
    public static final int ATOMIC_WRITE = 4096;

    private final SparseBytes current;
    private final SparseBytes durable;
    private final FaultPlan plan;
    private final SplittableRandom latencyRandom;
    private final ScheduledThreadPoolExecutor scheduler;
    private final AtomicLong requestSeq = new AtomicLong();
    /** Writes not yet durable, by sequence number: started ones hold their data from submit time. */
    private final Map<Long, Write> volatileWrites = new LinkedHashMap<>();
    private long completedWriteSeq;
    private boolean dead;
    /** Every request as submitted, when {@link #recordRequests()} asked for it; null otherwise. */
    private List<Submitted> log;

    /** One submitted request: its number (as {@link FaultPlan#failNth} counts), kind and place. */
    public record Submitted(long seq, IoRequest.Op op, long offset, int length) {
    }

    /** A write not yet made durable. */
    private static final class Write {
        final long offset;
        final byte[] data;
        /** Order of completion; 0 while in flight. */
        long completedAs;

        Write(long offset, byte[] data) {
            this.offset = offset;
            this.data = data;
        }
    }

    /** Takes {@code image} over (as the current content; the durable content is a copy). */
    private MemoryBlockDevice(SparseBytes image, int queueDepth, FaultPlan plan, long seed, MeterRegistry registry) {
        super("memory@" + Integer.toHexString(System.identityHashCode(image)), image.length(), true, queueDepth,
                DeviceOptions.defaults().withQueueDepth(queueDepth).withRegistry(registry), "memory");
        this.current = image;
        this.durable = image.copy();
        this.plan = plan;
        this.latencyRandom = new SplittableRandom(seed);
        this.scheduler = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "jbtrfs-memory-device");
            t.setDaemon(true);
            return t;
        });
    }

    /** A zeroed device of {@code size} bytes, no faults, queue depth 64, its own registry. */
    public static MemoryBlockDevice create(int size) {
        return create(new byte[size], 64, FaultPlan.none(), 1, new SimpleMeterRegistry());
    }

    /** A device holding a copy of {@code image} (also its durable content). */
    public static MemoryBlockDevice create(byte[] image, int queueDepth, FaultPlan plan, long seed,
                                           MeterRegistry registry) {
        return new MemoryBlockDevice(SparseBytes.of(image), queueDepth, plan, seed, registry);
    }

    /** A device holding the content of {@code imageFile}, read page by page: only non-zero pages cost memory. */
    public static MemoryBlockDevice create(Path imageFile, int queueDepth, FaultPlan plan, long seed,
                                           MeterRegistry registry) throws IOException {
        return new MemoryBlockDevice(SparseBytes.readFrom(imageFile), queueDepth, plan, seed, registry);
    }

    /** A device holding a copy of {@code image}: many devices from one image read once. */
    public static MemoryBlockDevice create(SparseBytes image, int queueDepth, FaultPlan plan, long seed,
                                           MeterRegistry registry) {
        return new MemoryBlockDevice(image.copy(), queueDepth, plan, seed, registry);
    }

    /** From now on, remembers every request submitted ({@link #submittedRequests()}); returns this device. */
    public synchronized MemoryBlockDevice recordRequests() {
        if (log == null) log = new ArrayList<>();
        return this;
    }

    /** The requests submitted since {@link #recordRequests()}, in submission order. */
    public synchronized List<Submitted> submittedRequests() {
        return log == null ? List.of() : List.copyOf(log);
    }

    @Override
    public int logicalBlockSize() { return SECTOR; }

    @Override
    public boolean directIo() { return false; }

    @Override
    void start(List<Pending> batch) {
        for (Pending p : batch) {
            long seq = requestSeq.incrementAndGet();
            IoRequest r = p.request;
            Write w = null;
            long flushUpTo = 0;
            synchronized (this) {
                if (log != null) log.add(new Submitted(seq, r.op(), r.offset(), p.length));
                if (r.op() == IoRequest.Op.WRITE) {
                    byte[] data = new byte[p.length];
                    r.buffer().get(r.buffer().position(), data);
                    w = new Write(r.offset(), data);
                    volatileWrites.put(seq, w);
                } else if (r.op() == IoRequest.Op.FLUSH) {
                    flushUpTo = completedWriteSeq; // only writes already completed are covered
                }
            }
            Write write = w;
            long upTo = flushUpTo;
            Runnable run = () -> execute(p, seq, write, upTo);
            long delay = plan.latencyNanos() + (plan.jitterNanos() > 0 ? nextJitter() : 0);
            if (delay > 0) scheduler.schedule(run, delay, TimeUnit.NANOSECONDS);
            else scheduler.execute(run);
        }
    }

    private synchronized long nextJitter() {
        return latencyRandom.nextLong(plan.jitterNanos());
    }

    private void execute(Pending p, long seq, Write write, long flushUpTo) {
        IoRequest r = p.request;
        long result;
        synchronized (this) {
            if (dead) {
                result = -Errno.EIO;
            } else if (plan.fails(seq, r.op(), r.offset(), p.length)) {
                result = -plan.errno();
                if (write != null) volatileWrites.remove(seq); // a failed write may not reach the medium at all
            } else {
                switch (r.op()) {
                    case READ -> current.read(r.offset(), r.buffer(), p.length);
                    case WRITE -> {
                        current.write(write.offset, write.data, 0, write.data.length);
                        write.completedAs = ++completedWriteSeq;
                    }
                    case FLUSH -> makeDurable(flushUpTo);
                }
                result = r.op() == IoRequest.Op.FLUSH ? 0 : p.length;
            }
        }
        finish(p, result, result < 0 ? "injected fault, request " + seq : null);
    }

    /** Applies, in completion order, every completed write numbered up to {@code upTo} to the durable image. */
    private void makeDurable(long upTo) {
        List<Write> covered = new ArrayList<>();
        for (Iterator<Write> it = volatileWrites.values().iterator(); it.hasNext(); ) {
            Write w = it.next();
            if (w.completedAs != 0 && w.completedAs <= upTo) {
                covered.add(w);
                it.remove();
            }
        }
        covered.sort((a, b) -> Long.compare(a.completedAs, b.completedAs));
        for (Write w : covered) durable.write(w.offset, w.data, 0, w.data.length);
    }

    /**
     * Cuts the power: this device fails everything from now on, and the returned image is what the medium holds:
     * the durable content plus each volatile write dropped, kept or torn at sector granularity, chosen by
     * {@code seed}.
     */
    public byte[] powerCut(long seed) {
        return cut(seed).toArray();
    }

    /** {@link #powerCut(long)}, the medium's content written to {@code file} as a sparse file. */
    public void powerCutTo(Path file, long seed) throws IOException {
        cut(seed).writeTo(file);
    }

    private SparseBytes cut(long seed) {
        Random random = new Random(seed);
        synchronized (this) {
            dead = true;
            SparseBytes image = durable.copy();
            List<Write> writes = new ArrayList<>(volatileWrites.values());
            // a disk may reorder its cache: survivors land in completion order, in-flight ones last
            writes.sort((a, b) -> Long.compare(a.completedAs == 0 ? Long.MAX_VALUE : a.completedAs,
                    b.completedAs == 0 ? Long.MAX_VALUE : b.completedAs));
            for (Write w : writes) {
                int fate = random.nextInt(3); // 0 dropped, 1 kept, 2 torn
                for (int s = 0; s < w.data.length; s += ATOMIC_WRITE) {
                    if (fate == 1 || (fate == 2 && random.nextBoolean())) {
                        image.write(w.offset + s, w.data, s, Math.min(ATOMIC_WRITE, w.data.length - s));
                    }
                }
            }
            volatileWrites.clear();
            return image;
        }
    }

    /** How many requests were submitted so far (the count {@link FaultPlan#failNth} counts in). */
    public long requestsSubmitted() {
        return requestSeq.get();
    }

    /** A copy of the current (visible, possibly not durable) content. */
    public synchronized byte[] snapshot() {
        return current.toArray();
    }

    /** A copy of what is durable now. */
    public synchronized byte[] durableSnapshot() {
        return durable.toArray();
    }

    /** Shortcut: reads {@code length} bytes at {@code offset} into a fresh array (through the queue). */
    public byte[] readBytes(long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        read(offset, b);
        return b.array();
    }

    @Override
    void closeEngine() {
        scheduler.shutdown();
        try {
            scheduler.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
