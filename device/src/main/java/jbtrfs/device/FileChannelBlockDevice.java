package jbtrfs.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Positional I/O on a {@link FileChannel} with a small thread pool: portable, works on files and block devices
 * alike, buffered (no O_DIRECT). The fallback where native AIO is missing.
 */
final class FileChannelBlockDevice extends QueuedBlockDevice {
    /** Most pool threads: positional I/O blocks a thread per request, and the host has few cores. */
    private static final int MAX_THREADS = 8;
    private static final int LOGICAL_BLOCK_SIZE = 512;
    private static final AtomicInteger POOL_NUMBER = new AtomicInteger();

    private final FileChannel channel;
    private final ThreadPoolExecutor pool;
    /** Fewest requests a pool task takes from a batch before the batch is spread over another task. */
    private static final int PER_TASK = 8;
    private final int threads;

    private FileChannelBlockDevice(String name, FileChannel channel, long size, DeviceOptions options) {
        super(name, size, options.writable(), options.queueDepth(), options, Backend.NIO.cliName());
        this.channel = channel;
        this.threads = Math.min(MAX_THREADS, options.queueDepth());
        int n = POOL_NUMBER.incrementAndGet();
        AtomicInteger t = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread th = new Thread(r, "jbtrfs-nio-" + n + "-" + t.incrementAndGet());
            th.setDaemon(true);
            return th;
        });
        pool.allowCoreThreadTimeOut(true);
    }

    /** Opens {@code path}; a block device's size comes from BLKGETSIZE64 (FileChannel.size() may say 0). */
    static FileChannelBlockDevice open(Path path, DeviceOptions options) throws IOException {
        FileChannel ch = options.writable()
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size == 0 && !Files.isRegularFile(path)) {
                size = BlockDeviceSize.of(path);
            }
            return new FileChannelBlockDevice(path.toString(), ch, size, options);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public int logicalBlockSize() { return LOGICAL_BLOCK_SIZE; }

    @Override
    public boolean directIo() { return false; }

    @Override
    public String backend() { return Backend.NIO.cliName(); }

    /** The read path's synchronous read runs on the caller's thread: no queue hop for a blocking call. */
    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        transfer(IoRequest.read(offset, dst), dst);
    }

    /**
     * A synchronous write (a file's data, under the filesystem's lock) runs on the caller's thread too: the hop to
     * the pool and back cost more than the copy into the page cache.
     */
    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        transfer(IoRequest.write(offset, src), src.duplicate());
    }

    /** A flush waited for at once runs on the caller's thread too: there is nothing to overlap it with. */
    @Override
    public void flush() throws IOException {
        transfer(IoRequest.flush(), null);
    }

    private void transfer(IoRequest r, ByteBuffer b) throws IOException {
        int length = b == null ? 0 : b.remaining();
        long start = System.nanoTime();
        metrics.submitted(r.op());
        DeviceIoException bad = validate(r);
        if (bad == null) {
            metrics.batch(1);
            long pos = r.offset();
            try {
                if (r.op() == IoRequest.Op.FLUSH) channel.force(false);
                while (b != null && b.hasRemaining()) {
                    int n = r.op() == IoRequest.Op.READ ? channel.read(b, pos) : channel.write(b, pos);
                    if (n < 0) {
                        bad = error(r, length, "short read: " + (pos - r.offset()) + " of " + length + " bytes",
                                Errno.EIO);
                        break;
                    }
                    pos += n;
                }
            } catch (IOException e) {
                bad = error(r, length, e.toString(), Errno.EIO);
            }
        }
        if (bad != null) {
            metrics.failed(r.op(), bad.errno(), System.nanoTime() - start);
            throw bad;
        }
        metrics.succeeded(r.op(), length, System.nanoTime() - start);
    }

    /**
     * Spreads a batch over at most {@link #threads} pool tasks of {@link #PER_TASK} or more consecutive requests: a
     * buffered write is a copy into the page cache, cheaper than the two thread wake-ups a task of its own costs.
     */
    @Override
    void start(List<Pending> batch) {
        int n = batch.size();
        int tasks = Math.min(threads, (n + PER_TASK - 1) / PER_TASK);
        for (int t = 0; t < tasks; t++) {
            List<Pending> share = List.copyOf(batch.subList(t * n / tasks, (t + 1) * n / tasks));
            pool.execute(() -> runUnclaimed(share));
        }
    }

    private void runUnclaimed(List<Pending> requests) {
        for (Pending p : requests) {
            if (p.claim()) run(p);
        }
    }

    /**
     * A commit submits a batch and waits for it at once: buffered writes are copies into the page cache, so the
     * waiter copies what no pool thread has taken yet instead of sleeping through two thread wake-ups per request.
     */
    @Override
    Runnable helper(List<Pending> batch) {
        return () -> runUnclaimed(batch);
    }

    private void run(Pending p) {
        IoRequest r = p.request;
        try {
            switch (r.op()) {
                case FLUSH -> {
                    channel.force(false);
                    finish(p, 0, null);
                }
                case READ, WRITE -> {
                    ByteBuffer b = r.buffer().duplicate();
                    long pos = r.offset();
                    while (b.hasRemaining()) {
                        int n = r.op() == IoRequest.Op.READ ? channel.read(b, pos) : channel.write(b, pos);
                        if (n < 0) break;
                        pos += n;
                    }
                    finish(p, pos - r.offset(), null);
                }
            }
        } catch (IOException e) {
            finish(p, -Errno.EIO, e.toString());
        } catch (RuntimeException e) {
            finish(p, -Errno.EIO, e.toString());
        }
    }

    @Override
    void closeEngine() throws IOException {
        pool.shutdown();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channel.close();
    }
}
