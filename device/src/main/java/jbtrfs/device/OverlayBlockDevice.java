package jbtrfs.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A writable view of a device that is never written: writes land in memory, in pages of {@link #PAGE} bytes, and
 * reads see them over the lower device's bytes. A flush has nothing to make durable. Closing it closes the lower
 * device (and so lets go of the lower device's image lock).
 *
 * <p>What a read-only mount uses to replay a log in memory: the replay and its commit write here, the image is
 * unchanged. Requests run on the submitting thread; pages are never dropped, so memory grows with what is written.
 */
public final class OverlayBlockDevice implements BlockDevice {
    /** The unit writes are kept in: a partly written page is first filled from the lower device. */
    public static final int PAGE = 4096;

    private final BlockDevice lower;
    /** Written pages by index (offset / PAGE); the last page of a device whose size is not a multiple is short. */
    private final Map<Long, byte[]> pages = new HashMap<>();
    private volatile boolean closed;

    private OverlayBlockDevice(BlockDevice lower) {
        this.lower = lower;
    }

    /** An overlay over {@code lower}, which it only ever reads. */
    public static OverlayBlockDevice over(BlockDevice lower) {
        return new OverlayBlockDevice(lower);
    }

    /** Bytes held in memory (what the writes cost). */
    public synchronized long heldBytes() {
        return (long) pages.size() * PAGE;
    }

    @Override
    public long size() { return lower.size(); }

    @Override
    public int logicalBlockSize() { return lower.logicalBlockSize(); }

    /** Writes stay in memory, so none bypasses a cache. */
    @Override
    public boolean directIo() { return false; }

    @Override
    public boolean writable() { return true; }

    @Override
    public String backend() { return "overlay over " + lower.backend(); }

    @Override
    public int queueDepth() { return lower.queueDepth(); }

    /** Requests run on the submitting thread: none is ever in flight here. */
    @Override
    public int inFlight() { return 0; }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst, false);
    }

    @Override
    public void readBulk(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst, true);
    }

    /** The lower device's bytes (its bulk read for file data), then the written pages over them. */
    private void read(long offset, ByteBuffer dst, boolean bulk) throws IOException {
        check("read", offset, dst.remaining());
        int start = dst.position();
        if (bulk) lower.readBulk(offset, dst.duplicate()); else lower.read(offset, dst.duplicate());
        overlay(offset, dst, start);
        dst.position(dst.limit());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check("write", offset, src.remaining());
        ByteBuffer in = src.duplicate();
        long at = offset;
        while (in.hasRemaining()) {
            long index = at / PAGE;
            int inPage = (int) (at % PAGE);
            int n = Math.min(in.remaining(), pageLength(index) - inPage);
            byte[] page = page(index, inPage == 0 && n == pageLength(index));
            synchronized (this) {
                in.get(page, inPage, n);
            }
            at += n;
        }
    }

    /** Nothing is durable here, and nothing needs to be: the overlay goes with the mount. */
    @Override
    public void flush() throws IOException {
        if (closed) throw closedError("flush", 0, 0);
    }

    @Override
    public CompletableFuture<IoCompletion> submit(IoRequest request) {
        long start = System.nanoTime();
        try {
            switch (request.op()) {
                case READ -> read(request.offset(), request.buffer().duplicate());
                case WRITE -> write(request.offset(), request.buffer());
                case FLUSH -> flush();
            }
            return CompletableFuture.completedFuture(new IoCompletion(request, request.length(),
                    System.nanoTime() - start));
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public IoBatch submit(List<IoRequest> requests) {
        List<CompletableFuture<IoCompletion>> futures = new ArrayList<>(requests.size());
        for (IoRequest r : requests) futures.add(submit(r));
        return new IoBatch(futures);
    }

    /** Closes the lower device; the pages go with this object. */
    @Override
    public void close() throws IOException {
        closed = true;
        lower.close();
    }

    /** Copies every written page that meets {@code [offset, offset + length)} over what the lower device gave. */
    private synchronized void overlay(long offset, ByteBuffer dst, int start) {
        int length = dst.limit() - start;
        if (pages.isEmpty() || length == 0) return;
        for (long index = offset / PAGE; index <= (offset + length - 1) / PAGE; index++) {
            byte[] page = pages.get(index);
            if (page == null) continue;
            long pageStart = index * PAGE;
            long from = Math.max(offset, pageStart);
            long to = Math.min(offset + length, pageStart + pageLength(index));
            dst.put(start + (int) (from - offset), page, (int) (from - pageStart), (int) (to - from));
        }
    }

    /**
     * The page at {@code index}, made when absent: from the lower device's bytes, unless the caller is about to
     * overwrite all of it.
     */
    private byte[] page(long index, boolean whole) throws IOException {
        synchronized (this) {
            byte[] page = pages.get(index);
            if (page != null) return page;
        }
        byte[] fresh = new byte[PAGE];
        if (!whole) lower.read(index * PAGE, ByteBuffer.wrap(fresh, 0, pageLength(index)));
        synchronized (this) {
            // another writer may have made it meanwhile: theirs holds newer bytes than the lower device
            return pages.computeIfAbsent(index, i -> fresh);
        }
    }

    private int pageLength(long index) {
        return (int) Math.min(PAGE, lower.size() - index * PAGE);
    }

    private void check(String op, long offset, int length) throws DeviceIoException {
        if (closed) throw closedError(op, offset, length);
        if (offset < 0 || offset > size() || length > size() - offset) {
            throw new DeviceIoException(op + " failed on the overlay: past the end of the device (size " + size()
                    + ")", offset, length, Errno.ENXIO);
        }
    }

    private static DeviceIoException closedError(String op, long offset, int length) {
        return new DeviceIoException(op + " failed on the overlay: device closed", offset, length, Errno.ESHUTDOWN);
    }
}
