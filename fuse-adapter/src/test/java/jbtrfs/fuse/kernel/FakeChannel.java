package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A channel a test scripts: each read hands over the next queued request (or throws the queued errno), ENODEV once
 * the queue is empty; each write is recorded as the bytes the kernel would have got. Clones read nothing.
 */
final class FakeChannel implements FuseChannel {
    private final Deque<Object> reads = new ArrayDeque<>();
    final List<ByteBuffer> writes = new ArrayList<>();
    final Deque<Integer> writeErrors = new ArrayDeque<>();
    final AtomicInteger clones = new AtomicInteger();
    volatile boolean closed;

    /** Queues a request's bytes. */
    synchronized FakeChannel request(byte[] bytes) {
        reads.add(bytes);
        return this;
    }

    /** Queues a read that fails with {@code errno}. */
    synchronized FakeChannel readError(int errno) {
        reads.add(errno);
        return this;
    }

    @Override
    public synchronized int read(ByteBuffer dst) throws ChannelException {
        Object next = reads.poll();
        if (next == null) throw new ChannelException(FuseAbi.ENODEV, "no such device");
        if (next instanceof Integer errno) throw new ChannelException(errno, "errno " + errno);
        byte[] b = (byte[]) next;
        int n = Math.min(b.length, dst.remaining());
        dst.duplicate().put(b, 0, n);
        return n;
    }

    @Override
    public synchronized void write(ByteBuffer header, ByteBuffer payload) throws ChannelException {
        Integer errno = writeErrors.poll();
        if (errno != null) throw new ChannelException(errno, "errno " + errno);
        int n = header.remaining() + (payload == null ? 0 : payload.remaining());
        ByteBuffer all = ByteBuffer.allocate(n).order(ByteOrder.nativeOrder());
        all.put(header.duplicate());
        if (payload != null) all.put(payload.duplicate());
        writes.add(all.flip());
    }

    @Override
    public FuseChannel cloneChannel() {
        clones.incrementAndGet();
        return new FakeChannel();
    }

    @Override
    public void close() {
        closed = true;
    }

    /** A request as the kernel frames it: fuse_in_header with len the real length, then {@code body}. */
    static byte[] frame(int opcode, long unique, long nodeId, byte[] body) {
        return frame(FuseAbi.IN_HEADER_SIZE + body.length, opcode, unique, nodeId, body);
    }

    /** A request whose header claims {@code len}, whatever its real length. */
    static byte[] frame(int len, int opcode, long unique, long nodeId, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(FuseAbi.IN_HEADER_SIZE + body.length).order(ByteOrder.nativeOrder());
        b.putInt(len).putInt(opcode).putLong(unique).putLong(nodeId).putInt(1000).putInt(100).putInt(4242)
                .putShort((short) 0).putShort((short) 0).put(body);
        return b.array();
    }

    /** fuse_init_in of a kernel speaking 7.{@code minor} and offering {@code flags} (flags2 in the high half). */
    static byte[] initBody(int minor, int maxReadahead, long flags) {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.nativeOrder());
        b.putInt(7).putInt(minor).putInt(maxReadahead).putInt((int) flags).putInt((int) (flags >>> 32));
        return b.array();
    }

    /** A body of native-order u64s. */
    static byte[] longs(long... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.nativeOrder());
        for (long v : values) b.putLong(v);
        return b.array();
    }
}
