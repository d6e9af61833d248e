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

import com.sun.nio.file.ExtendedOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Positional I/O on a {@link FileChannel} with a small thread pool: portable, works on files and block devices
 * alike, buffered. The fallback where native AIO is missing.
 *
 * <p>Large aligned bulk reads and writes (a file's data) may go around the page cache instead
 * ({@link DeviceOptions#directIo}): on a host whose page cache costs more than the disk, buffered 1 MiB writes ran
 * at 500 MiB/s and O_DIRECT ones at 850; cold 128 KiB reads 490-650 MiB/s buffered, 1100-1240 direct. The kernel
 * above FUSE caches file data anyway, so the host's copy was a second one. Linux keeps the two paths coherent: a
 * direct write drops the cached pages of its range, a direct read first writes back dirty ones.
 */
final class FileChannelBlockDevice extends QueuedBlockDevice {
    /** Most pool threads: positional I/O blocks a thread per request, and the host has few cores. */
    private static final int MAX_THREADS = 8;
    private static final int LOGICAL_BLOCK_SIZE = 512;
    /** Shortest bulk transfer sent around the page cache: below it, the copy through the cache costs less. */
    static final int DIRECT_MIN = 64 << 10;
    /** Bounce buffers a size class keeps, for bulk reads into memory O_DIRECT cannot use (FUSE's buffers). */
    private static final int BOUNCE_PER_CLASS = MAX_THREADS;
    private static final Logger LOG = LoggerFactory.getLogger(FileChannelBlockDevice.class);
    private static final AtomicInteger POOL_NUMBER = new AtomicInteger();

    private final FileChannel channel;
    /** The same file opened O_DIRECT for large aligned bulk transfers; null where not asked for or not allowed. */
    private final FileChannel directChannel;
    /** What O_DIRECT needs offsets, lengths and buffer addresses to be multiples of. */
    private final int directAlignment;
    /** Aligned buffers for bulk reads whose destination is not aligned; null without {@link #directChannel}. */
    private final AlignedBuffers bounce;
    private final ThreadPoolExecutor pool;
    /** Fewest requests a pool task takes from a batch before the batch is spread over another task. */
    private static final int PER_TASK = 8;
    private final int threads;

    private FileChannelBlockDevice(String name, FileChannel channel, FileChannel directChannel, int directAlignment,
                                   long size, DeviceOptions options) {
        super(name, size, options.writable(), options.queueDepth(), options, Backend.NIO.cliName());
        this.channel = channel;
        this.directChannel = directChannel;
        this.directAlignment = directAlignment;
        this.bounce = directChannel == null ? null : new AlignedBuffers(directAlignment, BOUNCE_PER_CLASS);
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
            FileChannel direct = options.directIo() ? openDirect(path, options.writable()) : null;
            int alignment = direct == null ? 0 : directAlignment(path);
            if (alignment != 0 && !directReadWorks(path, direct, alignment, size)) alignment = 0;
            if (alignment == 0 && direct != null) {
                direct.close();
                direct = null;
            }
            return new FileChannelBlockDevice(path.toString(), ch, direct, alignment, size, options);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * What O_DIRECT on {@code path} needs offsets, lengths and addresses aligned to: its filesystem's block size, at
     * least 4 KiB (a block device's path answers for devtmpfs, whose 4 KiB covers any logical block size up to it).
     * 0 where that is unknown or unusable: then writes stay buffered.
     */
    private static int directAlignment(Path path) {
        try {
            long bs = Math.max(4096, Files.getFileStore(path).getBlockSize());
            if (Long.bitCount(bs) == 1 && bs <= 1 << 20) return (int) bs;
            LOG.info("{}: I/O stays buffered, block size {} is no alignment O_DIRECT can use", path, bs);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.info("{}: I/O stays buffered, the block size is unknown ({})", path, e.toString());
        }
        return 0;
    }

    /**
     * Whether an aligned O_DIRECT read works: some filesystems open O_DIRECT and then fail the I/O (EINVAL), which
     * would turn every large read into EIO. One block at offset 0, once.
     */
    private static boolean directReadWorks(Path path, FileChannel direct, int alignment, long size) {
        if (size < alignment) return false;
        try {
            direct.read(AlignedBuffers.allocateAligned(alignment, alignment), 0);
            return true;
        } catch (IOException e) {
            LOG.info("{}: I/O stays buffered, an O_DIRECT read failed ({})", path, e.toString());
            return false;
        }
    }

    /** The file opened O_DIRECT, or null where its filesystem refuses (tmpfs) or the JDK lacks it. */
    private static FileChannel openDirect(Path path, boolean writable) {
        try {
            return writable
                    ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)
                    : FileChannel.open(path, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.info("{}: I/O stays buffered, O_DIRECT was refused ({})", path, e.toString());
            return null;
        }
    }

    @Override
    public int logicalBlockSize() { return LOGICAL_BLOCK_SIZE; }

    @Override
    public boolean directIo() { return false; }

    /** A hole in the image file, or BLKDISCARD on a block device, through a descriptor of its own. */
    @Override
    public void discard(long offset, long length) throws IOException {
        Discard.range(name, writable, size, offset, length);
    }

    /** The read path's synchronous read runs on the caller's thread: no queue hop for a blocking call. */
    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        transfer(IoRequest.read(offset, dst), dst, channel);
    }

    /**
     * A large aligned read of file data goes around the page cache: straight into {@code dst} where its memory is
     * aligned, else through a pooled aligned buffer and one copy (still cheaper than filling the host's cache).
     */
    @Override
    public void readBulk(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (!directFits(offset, length)) {
            read(offset, dst);
        } else if (aligned(dst)) {
            transfer(IoRequest.read(offset, dst), dst, directChannel);
        } else {
            ByteBuffer b = bounce.acquire(length);
            try {
                transfer(IoRequest.read(offset, b), b.duplicate(), directChannel);
                dst.put(b);
            } finally {
                bounce.release(b);
            }
        }
    }

    private boolean directFits(long offset, int length) {
        return directChannel != null && length >= DIRECT_MIN && (offset | length) % directAlignment == 0;
    }

    private boolean aligned(ByteBuffer b) {
        return b.isDirect() && b.alignmentOffset(b.position(), directAlignment) == 0;
    }

    /**
     * A synchronous write (a file's data, under the filesystem's lock) runs on the caller's thread too: the hop to
     * the pool and back cost more than the copy into the page cache.
     */
    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        transfer(IoRequest.write(offset, src), src.duplicate(), channel);
    }

    /** A flush waited for at once runs on the caller's thread too: there is nothing to overlap it with. */
    @Override
    public void flush() throws IOException {
        transfer(IoRequest.flush(), null, channel);
    }

    private void transfer(IoRequest r, ByteBuffer b, FileChannel ch) throws IOException {
        int length = b == null ? 0 : b.remaining();
        long start = System.nanoTime();
        metrics.submitted(r.op());
        DeviceIoException bad = validate(r);
        if (bad == null) {
            metrics.batch(1);
            long pos = r.offset();
            try {
                if (r.op() == IoRequest.Op.FLUSH) ch.force(false);
                while (b != null && b.hasRemaining()) {
                    int n = r.op() == IoRequest.Op.READ ? ch.read(b, pos) : ch.write(b, pos);
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
                case WRITE -> finish(p, writeAt(r.offset(), r.buffer().duplicate(), r.bulk()), null);
                case READ -> {
                    ByteBuffer b = r.buffer().duplicate();
                    long pos = r.offset();
                    while (b.hasRemaining()) {
                        int n = channel.read(b, pos);
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

    /**
     * Writes all of {@code b} at {@code offset}: around the page cache when it is bulk, large, and aligned in offset,
     * length and memory (the write-behind's buffers are), else buffered.
     */
    private long writeAt(long offset, ByteBuffer b, boolean bulk) throws IOException {
        int length = b.remaining();
        FileChannel to = bulk && directFits(offset, length) && aligned(b) ? directChannel : channel;
        for (long pos = offset; b.hasRemaining(); ) pos += to.write(b, pos);
        return length;
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
        if (directChannel != null) directChannel.close();
    }
}
