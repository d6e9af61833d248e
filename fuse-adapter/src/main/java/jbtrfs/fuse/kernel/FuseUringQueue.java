package jbtrfs.fuse.kernel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.kenai.jffi.MemoryIO;

/**
 * One thread serving FUSE requests over its own io_uring (fs/fuse/dev_uring.c): one ring entry, a
 * fuse_uring_req_header and a payload buffer of max_write, registered on queue {@code qid} with
 * FUSE_IO_URING_CMD_REGISTER; then each request is answered and the next fetched in one
 * FUSE_IO_URING_CMD_COMMIT_AND_FETCH. The kernel puts fuse_in_header and the opcode's struct in the header buffer
 * and the rest (names, write data) in the payload; both headers are copied back in front of the payload so that the
 * request is framed as a /dev/fuse read is, and a reply is written into the same two buffers.
 */
final class FuseUringQueue implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(FuseUringQueue.class);
    static final int CMD_REGISTER = 1;
    static final int CMD_COMMIT_AND_FETCH = 2;
    /** struct fuse_uring_req_header: in_out[128], op_in[128], struct fuse_uring_ent_in_out (32 bytes). */
    static final int HEADER_SIZE = 288;
    static final int OP_IN = 128;
    /** fuse_uring_ent_in_out.payload_sz: the payload's bytes, both ways. */
    static final int PAYLOAD_SZ = 256 + 16;
    /** Room in front of the payload for fuse_in_header and the largest opcode struct. */
    static final int FRONT = FuseAbi.IN_HEADER_SIZE + OP_IN;
    private static final int ENOTCONN = 107;
    private static final int ECONNABORTED = 103;
    private static final int ECANCELED = 125;
    /** How often a registration the kernel is not ready for yet (EAGAIN before INIT is processed) is retried. */
    private static final int REGISTER_TRIES = 100;
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private final IoUring ring;
    private final int devFd;
    private final int qid;
    private final Dispatcher dispatcher;
    private final int maxPayload;
    private final IntConsumer refused;
    private final ByteBuffer header;
    private final ByteBuffer buffer;
    private final ByteBuffer payload;
    private final ByteBuffer iov;
    private final long headerAddress;
    private final long payloadAddress;
    private final Entry entry = new Entry();
    private final ChannelRequest request;
    /** Read by other threads (the session's count), written by this one. */
    private final AtomicLong served = new AtomicLong();
    private volatile int exitErrno;

    /**
     * Serves queue {@code qid} of the connection on /dev/fuse fd {@code devFd} with {@code ring}, payloads of up to
     * {@code maxPayload} bytes; {@code refused} gets the errno when the kernel refuses the registration.
     */
    FuseUringQueue(IoUring ring, int devFd, int qid, Dispatcher dispatcher, int maxPayload, IntConsumer refused) {
        this.ring = ring;
        this.devFd = devFd;
        this.qid = qid;
        this.dispatcher = dispatcher;
        this.maxPayload = maxPayload;
        this.refused = refused;
        this.header = ByteBuffer.allocateDirect(HEADER_SIZE).order(ByteOrder.nativeOrder());
        this.buffer = PageBuffers.allocate(FRONT + maxPayload, FRONT);   // the payload (a READ's data) page-aligned
        this.payload = buffer.slice(FRONT, maxPayload).order(ByteOrder.nativeOrder());
        this.headerAddress = MEMORY.getDirectBufferAddress(header);
        this.payloadAddress = MEMORY.getDirectBufferAddress(payload);
        this.iov = ByteBuffer.allocateDirect(32).order(ByteOrder.nativeOrder())
                .putLong(0, headerAddress).putLong(8, HEADER_SIZE).putLong(16, payloadAddress).putLong(24, maxPayload);
        this.request = new ChannelRequest(entry, dispatcher.interrupts(), SessionOptions.MAX_WRITE
                + RequestLoop.HEADROOM, dispatcher.errors());
    }

    /** Requests served over this ring entry. */
    long served() {
        return served.get();
    }

    /** 0 when the loop ended with the connection (or was refused), else the errno that stopped it. */
    int exitErrno() {
        return exitErrno;
    }

    @Override
    public void run() {
        try {
            serve();
        } catch (ChannelException | RuntimeException | Error e) {
            exitErrno = ServingThreads.stopped(LOG, "FUSE ring worker", e);
        } finally {
            ring.close();
        }
    }

    private void serve() throws ChannelException {
        submit(CMD_REGISTER, 0);
        boolean fetched = false;
        int tries = 0;
        while (true) {
            int res = awaitCompletion();
            if (res < 0) {
                int errno = -res;
                if (errno == ENOTCONN || errno == ECONNABORTED || errno == ECANCELED || errno == FuseAbi.ENODEV) {
                    return;   // the connection is gone: the kernel ended the entry
                }
                if (!fetched && errno == FuseAbi.EAGAIN && ++tries < REGISTER_TRIES) {
                    sleep();
                    submit(CMD_REGISTER, 0);
                    continue;
                }
                if (!fetched) {
                    refused.accept(errno);
                    return;
                }
                // a commit the kernel could not match (its request was ended meanwhile): the entry is lost, so a
                // new one is registered with the same buffers
                dispatcher.errors().warn(LOG, "ring-commit-" + errno, "a FUSE ring commit failed: "
                        + FuseLibC.get().strerror(errno) + "; the entry is registered again");
                submit(CMD_REGISTER, 0);
                continue;
            }
            fetched = true;
            submit(CMD_COMMIT_AND_FETCH, serveEntry());
        }
    }

    /** Frames and serves the request in the entry, leaving its reply there; returns its unique. */
    private long serveEntry() {
        int len = MEMORY.getInt(headerAddress);
        long unique = MEMORY.getLong(headerAddress + 8);
        int payloadSize = MEMORY.getInt(headerAddress + PAYLOAD_SZ);
        int opSize = len - FuseAbi.IN_HEADER_SIZE - payloadSize;
        served.incrementAndGet();
        entry.written = false;
        if (payloadSize < 0 || payloadSize > maxPayload || opSize < 0 || opSize > OP_IN) {
            dispatcher.errors().warn(LOG, "ring-frame", "a ring request (opcode " + MEMORY.getInt(headerAddress + 4)
                    + ") says " + Integer.toUnsignedString(len) + " bytes with a payload of "
                    + Integer.toUnsignedString(payloadSize) + ": EINVAL");
            entry.answer(unique, -FuseAbi.EINVAL);
            return unique;
        }
        int start = FRONT - FuseAbi.IN_HEADER_SIZE - opSize;
        long base = payloadAddress - FRONT;
        MEMORY.copyMemory(headerAddress, base + start, FuseAbi.IN_HEADER_SIZE);
        if (opSize > 0) MEMORY.copyMemory(headerAddress + OP_IN, base + start + FuseAbi.IN_HEADER_SIZE, opSize);
        // a reply is built in the payload buffer only when it holds none of the request
        request.replyIn(payloadSize == 0 ? payload : null);
        RequestLoop.serveFramed(buffer.slice(start, len).order(ByteOrder.nativeOrder()), len, request, dispatcher);
        // the kernel waits for a commit of every request it put on the ring
        if (!entry.written) entry.answer(unique, -FuseAbi.EIO);
        return unique;
    }

    /** Fills a submission entry with the uring command {@code command} for this queue's entry. */
    private void submit(int command, long commitId) {
        long sqe = ring.nextSqe();
        MEMORY.putByte(sqe, (byte) IoUring.OP_URING_CMD);
        MEMORY.putInt(sqe + 4, devFd);
        MEMORY.putInt(sqe + 8, command);                                  // cmd_op
        if (command == CMD_REGISTER) {
            MEMORY.putLong(sqe + 16, MEMORY.getDirectBufferAddress(iov));  // addr: iovec[2], header and payload
            MEMORY.putInt(sqe + 24, 2);
        }
        MEMORY.putLong(sqe + 32, qid);                                    // user_data
        long cmd = sqe + IoUring.SQE_CMD;                                 // struct fuse_uring_cmd_req
        MEMORY.putLong(cmd + 8, commitId);
        MEMORY.putShort(cmd + 16, (short) qid);
    }

    /** Submits what was filled and waits for this entry's next completion; returns its result. */
    private int awaitCompletion() throws ChannelException {
        while (true) {
            long cqe = ring.peekCqe();
            if (cqe != 0) {
                int res = IoUring.cqeResult(cqe);
                ring.consumeCqe();
                return res;
            }
            try {
                ring.enter(1);
            } catch (ChannelException e) {
                if (e.errno() != FuseAbi.EINTR && e.errno() != FuseAbi.EAGAIN) throw e;
            }
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The reply side of the entry as {@link ChannelRequest} sees a channel: fuse_out_header and payload copied in. */
    private final class Entry implements FuseChannel {
        boolean written;

        @Override
        public int read(ByteBuffer dst) {
            throw new UnsupportedOperationException("a ring entry is fetched by its queue, not read");
        }

        @Override
        public void write(ByteBuffer out, ByteBuffer reply) {
            int size = reply == null ? 0 : reply.remaining();
            if (size > maxPayload) {
                dispatcher.errors().warn(LOG, "ring-reply-size", "a reply of " + size + " bytes exceeds the ring's "
                        + maxPayload + ": EIO");
                answer(out.getLong(out.position() + 8), -FuseAbi.EIO);
                return;
            }
            MEMORY.copyMemory(MEMORY.getDirectBufferAddress(out) + out.position(), headerAddress,
                    FuseAbi.OUT_HEADER_SIZE);
            if (size > 0) {
                long from = MEMORY.getDirectBufferAddress(reply) + reply.position();
                if (from != payloadAddress) MEMORY.copyMemory(from, payloadAddress, size);
            }
            MEMORY.putInt(headerAddress + PAYLOAD_SZ, size);
            written = true;
        }

        /** A reply of fuse_out_header alone: {@code error} (0 or a negative errno) for {@code unique}. */
        void answer(long unique, int error) {
            MEMORY.putInt(headerAddress, FuseAbi.OUT_HEADER_SIZE);
            MEMORY.putInt(headerAddress + 4, error);
            MEMORY.putLong(headerAddress + 8, unique);
            MEMORY.putInt(headerAddress + PAYLOAD_SZ, 0);
            written = true;
        }

        @Override
        public FuseChannel cloneChannel() throws IOException {
            throw new IOException("a ring entry has no clone");
        }

        @Override
        public void close() {
            // the ring is the queue's to close
        }
    }
}
