package jbtrfs.device.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.AlignedBuffers;
import jbtrfs.device.Backend;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.DeviceOptions;
import jbtrfs.device.IoRequest;

/**
 * A fio-like load through the device layer: {@code --file F --size 1G --rw randwrite|randread|write|read --bs 4k
 * --qd N --seconds S [--backend B]}. Keeps {@code qd} requests in flight (each completion submits the next,
 * from the completion callback, as fio's libaio engine does), after one second of ramp that is not measured.
 * The last line printed is one JSON object with backend, rw, bs, qd, iops, mib_s, p50_us and p99_us.
 */
public final class DeviceBench {
    private static final long RAMP_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int FILL_CHUNK = 1 << 20;

    private final Path file;
    private final long size;
    private final String rw;
    private final int bs;
    private final int qd;
    private final int seconds;
    private final Backend backend;

    private DeviceBench(Path file, long size, String rw, int bs, int qd, int seconds, Backend backend) {
        this.file = file;
        this.size = size;
        this.rw = rw;
        this.bs = bs;
        this.qd = qd;
        this.seconds = seconds;
        this.backend = backend;
    }

    /** Entry point for {@code jbtrfs bench-device}; returns the process exit code. */
    public static int run(String[] args, PrintStream out) {
        DeviceBench bench;
        try {
            bench = parse(args);
        } catch (IllegalArgumentException e) {
            out.println("bench-device: " + e.getMessage());
            out.println("usage: bench-device --file F --size 1G --rw randwrite|randread|write|read --bs 4k --qd N"
                    + " --seconds S [--backend aio|nio]");
            return 2;
        }
        try {
            return bench.execute(out);
        } catch (IOException | RuntimeException e) {
            out.println("bench-device: " + e);
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.println("bench-device: interrupted");
            return 1;
        }
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out));
    }

    static DeviceBench parse(String[] args) {
        Path file = null;
        long size = -1;
        String rw = null;
        int bs = 4096;
        int qd = 1;
        int seconds = 10;
        Backend backend = Backend.AUTO;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + flag);
            String v = args[++i];
            switch (flag) {
                case "--file" -> file = Path.of(v);
                case "--size" -> size = parseSize(v);
                case "--rw" -> {
                    if (!Arrays.asList("randwrite", "randread", "write", "read").contains(v)) {
                        throw new IllegalArgumentException("--rw must be randwrite, randread, write or read");
                    }
                    rw = v;
                }
                case "--bs" -> bs = Math.toIntExact(parseSize(v));
                case "--qd" -> qd = Integer.parseInt(v);
                case "--seconds" -> seconds = Integer.parseInt(v);
                case "--backend" -> backend = Backend.parse(v);
                default -> throw new IllegalArgumentException("unknown flag " + flag);
            }
        }
        if (file == null || rw == null) throw new IllegalArgumentException("--file and --rw are required");
        if (size < 0) size = 1L << 30;
        if (bs <= 0 || bs % 512 != 0) throw new IllegalArgumentException("--bs must be a multiple of 512");
        if (qd < 1 || seconds < 1 || size < bs) throw new IllegalArgumentException("need qd >= 1, seconds >= 1, size >= bs");
        return new DeviceBench(file, size - size % bs, rw, bs, qd, seconds, backend);
    }

    /** Parses 4096, 4k, 1M, 1G (binary units). */
    static long parseSize(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'b') {
            t = t.substring(0, t.length() - 1);
            last = t.charAt(t.length() - 1);
        }
        switch (last) {
            case 'k' -> mult = 1L << 10;
            case 'm' -> mult = 1L << 20;
            case 'g' -> mult = 1L << 30;
            case 't' -> mult = 1L << 40;
            default -> mult = 1;
        }
        if (mult != 1) t = t.substring(0, t.length() - 1);
        return Long.parseLong(t) * mult;
    }

    private int execute(PrintStream out) throws IOException, InterruptedException {
        prepare(out);
        boolean writes = rw.endsWith("write");
        DeviceOptions options = DeviceOptions.defaults().withBackend(backend).withQueueDepth(qd).withWritable(writes)
                .withRegistry(new SimpleMeterRegistry());
        try (BlockDevice device = BlockDevice.open(file, options)) {
            out.printf("bench-device: %s %s bs=%d qd=%d on %s (%s, O_DIRECT %s, block %d), ramp 1 s, measure %d s%n",
                    device.backend(), rw, bs, qd, file, human(Math.min(size, device.size())), device.directIo(),
                    device.logicalBlockSize(), seconds);
            Run run = new Run(device, Math.min(size, device.size()) / bs, writes, rw.startsWith("rand"));
            Result r = run.go();
            if (r.failure != null) {
                out.println("bench-device: request failed: " + r.failure);
                return 1;
            }
            double iops = r.ops / r.seconds;
            double mibs = iops * bs / (1 << 20);
            out.printf(Locale.ROOT, "bench-device: %d requests in %.2f s: %.0f IOPS, %.1f MiB/s, p50 %.1f us,"
                    + " p99 %.1f us%n", r.ops, r.seconds, iops, mibs, r.p50us, r.p99us);
            out.printf(Locale.ROOT, "{\"backend\":\"%s\",\"rw\":\"%s\",\"bs\":%d,\"qd\":%d,\"iops\":%.0f,\"mib_s\":%.1f,"
                    + "\"p50_us\":%.1f,\"p99_us\":%.1f}%n", device.backend(), rw, bs, qd, iops, mibs, r.p50us, r.p99us);
            return 0;
        }
    }

    /** Makes the file at least {@code size} bytes of written (not sparse) data, so reads touch the disk. */
    private void prepare(PrintStream out) throws IOException {
        if (Files.exists(file) && !Files.isRegularFile(file)) return; // a block device: use as it is
        long have = Files.exists(file) ? Files.size(file) : 0;
        if (have >= size) return;
        out.printf("bench-device: laying out %s (%s)%n", file, human(size));
        SplittableRandom random = new SplittableRandom(42);
        ByteBuffer chunk = ByteBuffer.allocateDirect(FILL_CHUNK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long pos = have - have % FILL_CHUNK; pos < size; pos += FILL_CHUNK) {
                chunk.clear();
                while (chunk.remaining() >= 8) chunk.putLong(random.nextLong());
                chunk.flip().limit((int) Math.min(FILL_CHUNK, size - pos));
                while (chunk.hasRemaining()) ch.write(chunk, pos + chunk.position());
            }
            ch.force(true);
        }
    }

    private static String human(long bytes) {
        return bytes >= (1L << 30) && bytes % (1L << 30) == 0 ? bytes / (1L << 30) + " GiB" : bytes / (1 << 20) + " MiB";
    }

    private record Result(long ops, double seconds, double p50us, double p99us, Throwable failure) {
    }

    /** One measured run: qd slots, each resubmitting from its own completion. */
    private final class Run {
        private final BlockDevice device;
        private final long blocks;
        private final boolean writes;
        private final boolean random;
        private final ByteBuffer[] buffers;
        private final AtomicLong sequential = new AtomicLong();
        private final CountDownLatch stopped;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final long measureFrom;
        private final long end;
        private long[] latencies = new long[1 << 20];
        private int count;

        Run(BlockDevice device, long blocks, boolean writes, boolean random) {
            this.device = device;
            this.blocks = blocks;
            this.writes = writes;
            this.random = random;
            AlignedBuffers pool = new AlignedBuffers(Math.max(4096, device.logicalBlockSize()), qd);
            this.buffers = new ByteBuffer[qd];
            SplittableRandom fill = new SplittableRandom(7);
            for (int i = 0; i < qd; i++) {
                buffers[i] = pool.acquire(bs);
                while (buffers[i].remaining() >= 8) buffers[i].putLong(fill.nextLong());
                buffers[i].clear().limit(bs);
            }
            this.stopped = new CountDownLatch(qd);
            long now = System.nanoTime();
            this.measureFrom = now + RAMP_NANOS;
            this.end = measureFrom + TimeUnit.SECONDS.toNanos(seconds);
        }

        Result go() throws InterruptedException {
            for (int slot = 0; slot < qd; slot++) issue(slot);
            stopped.await();
            if (failure.get() != null) return new Result(0, 0, 0, 0, failure.get());
            long[] sorted;
            synchronized (this) {
                sorted = Arrays.copyOf(latencies, count);
            }
            Arrays.sort(sorted);
            double secs = (end - measureFrom) / 1e9;
            return new Result(sorted.length, secs, percentile(sorted, 0.50), percentile(sorted, 0.99), null);
        }

        private void issue(int slot) {
            long block = random ? ThreadLocalRandom.current().nextLong(blocks)
                    : Math.floorMod(sequential.getAndIncrement(), blocks);
            long offset = block * bs;
            IoRequest r = writes ? IoRequest.write(offset, buffers[slot]) : IoRequest.read(offset, buffers[slot]);
            long t0 = System.nanoTime();
            device.submit(r).whenComplete((c, e) -> done(slot, t0, e));
        }

        private void done(int slot, long t0, Throwable e) {
            long now = System.nanoTime();
            if (e != null) {
                failure.compareAndSet(null, e);
                stopped.countDown();
                return;
            }
            if (now > end || failure.get() != null) {
                stopped.countDown();
                return;
            }
            if (t0 >= measureFrom) record(now - t0);
            issue(slot);
        }

        private synchronized void record(long nanos) {
            if (count == latencies.length) latencies = Arrays.copyOf(latencies, count * 2);
            latencies[count++] = nanos;
        }

        private double percentile(long[] sorted, double p) {
            if (sorted.length == 0) return 0;
            return sorted[(int) Math.min(sorted.length - 1, Math.floor(p * sorted.length))] / 1000.0;
        }
    }
}
