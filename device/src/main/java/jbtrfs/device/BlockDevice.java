package jbtrfs.device;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A file or block device addressed by byte offset, with a bounded queue of asynchronous requests.
 * Knows nothing about Btrfs.
 *
 * <p>The synchronous {@link #read} is what the read path uses. The commit path submits many writes as one
 * {@link IoBatch} with {@link #submit(List)} and waits with {@link IoBatch#await()}; a full queue blocks
 * the submitter (back-pressure). Completion callbacks attached to the futures run on the engine's thread:
 * they must not block, and a callback may submit again only while the queue has room.
 *
 * <p>Every failure is a {@link DeviceIoException} carrying the request's offset, length and errno.
 */
public interface BlockDevice extends Closeable {

    /** Size of the device in bytes. */
    long size();

    /** The device's logical block size in bytes (the alignment O_DIRECT needs). */
    int logicalBlockSize();

    /** Whether I/O bypasses the page cache (O_DIRECT). */
    boolean directIo();

    /** Whether writes and flushes are allowed. */
    boolean writable();

    /** The engine in use: aio, nio or memory. */
    String backend();

    /** Most requests in flight at once. */
    int queueDepth();

    /** Requests submitted and not yet completed. */
    int inFlight();

    /** The most requests in flight at once since the last call (then starts again from the current count). */
    default int takePeakInFlight() { return inFlight(); }

    /**
     * Reads exactly {@code dst.remaining()} bytes starting at {@code offset} into {@code dst}.
     * A read that would pass the end of the device fails; it never returns silent zeros.
     */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * {@link #read} of file data: bytes the reader's own cache (the kernel's, above FUSE) keeps, so an engine may
     * read them around the host's page cache. Tree blocks and superblocks go through {@link #read}.
     */
    default void readBulk(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst);
    }

    /** Submits one request; the future fails with a {@link DeviceIoException}. Blocks while the queue is full. */
    CompletableFuture<IoCompletion> submit(IoRequest request);

    /** Submits requests in order, as few engine calls as the queue allows. Blocks while the queue is full. */
    IoBatch submit(List<IoRequest> requests);

    /** Writes all of {@code src.remaining()} bytes at {@code offset} and waits; the buffer is left as it was. */
    default void write(long offset, ByteBuffer src) throws IOException {
        QueuedBlockDevice.await(submit(IoRequest.write(offset, src)));
    }

    /** Makes every write completed so far durable, and waits. */
    default void flush() throws IOException {
        QueuedBlockDevice.await(submit(IoRequest.flush()));
    }

    /**
     * Gives {@code length} bytes at {@code offset} back to what holds the device (a hole punched in an image file,
     * BLKDISCARD on a block device); they read as zeros or as before afterwards, so only free space may be given.
     * EOPNOTSUPP where that cannot be done.
     */
    default void discard(long offset, long length) throws IOException {
        throw new DeviceIoException("discard is not supported on " + backend(), offset, length, Errno.EOPNOTSUPP);
    }

    /** Opens a file or block device for reading only (portable FileChannel engine, buffered). */
    static BlockDevice openReadOnly(Path path) throws IOException {
        return FileChannelBlockDevice.open(path, DeviceOptions.defaults().withWritable(false)
                .withBackend(Backend.NIO).withQueueDepth(8));
    }

    /**
     * {@link #open}, holding an {@link ImageLock} on the image until the device is closed: exclusive when writable,
     * shared otherwise. A mount opens its image this way; {@link ImageInUseException} names who holds it.
     */
    static BlockDevice openLocked(Path path, DeviceOptions options) throws IOException {
        ImageLock lock = ImageLock.acquire(path, options.writable());
        try {
            QueuedBlockDevice device = (QueuedBlockDevice) open(path, options);
            device.holdLock(lock);
            return device;
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Opens a file or block device with the given options; {@link Backend#AUTO} picks the fastest that works. */
    static BlockDevice open(Path path, DeviceOptions options) throws IOException {
        return switch (options.backend()) {
            case NIO -> FileChannelBlockDevice.open(path, options);
            case AIO -> AioBlockDevice.open(path, options);
            case AUTO -> AioBlockDevice.available() ? AioBlockDevice.open(path, options)
                    : FileChannelBlockDevice.open(path, options);
        };
    }
}
