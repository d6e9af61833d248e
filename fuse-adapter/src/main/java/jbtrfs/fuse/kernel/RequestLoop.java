package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker: reads a request from its channel into its own direct buffer, frames it (fuse_in_header decoded in
 * place, the body bounded by what was read), lets the {@link Dispatcher} serve it, and repeats until the mount is
 * gone. Lengths are never trusted: a request whose header disagrees with the read is answered EINVAL.
 */
final class RequestLoop implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(RequestLoop.class);
    /** What a read buffer holds beyond max_write: fuse_in_header, fuse_write_in, and room to spare (libfuse's). */
    static final int HEADROOM = 4096;

    private final FuseChannel channel;
    private final Dispatcher dispatcher;
    private final ByteBuffer in;
    private final ChannelRequest request;
    private volatile int exitErrno;
    private long served;

    RequestLoop(FuseChannel channel, Dispatcher dispatcher, int maxWrite) {
        this.channel = channel;
        this.dispatcher = dispatcher;
        this.in = ByteBuffer.allocateDirect(Math.max(FuseAbi.MIN_READ_BUFFER, maxWrite + HEADROOM))
                .order(ByteOrder.nativeOrder());
        this.request = new ChannelRequest(channel, dispatcher.interrupts(), maxWrite + HEADROOM, dispatcher.errors());
    }

    /** Serves until the channel reports ENODEV (0 then) or fails otherwise (its errno). */
    @Override
    public void run() {
        try {
            while (serveOne()) {
                // next request
            }
        } catch (ChannelException | RuntimeException | Error e) {
            exitErrno = ServingThreads.stopped(LOG, "FUSE worker", e);
        }
    }

    /** 0 when the loop ended because the mount went away, else the errno that stopped it. */
    int exitErrno() {
        return exitErrno;
    }

    /** Reads and serves one request; false once the mount is gone. */
    boolean serveOne() throws ChannelException {
        in.clear();
        int n;
        try {
            n = channel.read(in);
        } catch (ChannelException e) {
            switch (e.errno()) {
                // a signal, a spurious wakeup, or a request the kernel withdrew before we read it: read again
                case FuseAbi.EINTR, FuseAbi.EAGAIN, FuseAbi.ENOENT -> {
                    return true;
                }
                case FuseAbi.ENODEV -> {
                    return false;
                }
                default -> throw e;
            }
        }
        served++;
        serveFramed(in, n, request, dispatcher);
        return true;
    }

    /** Requests this loop has read and served. */
    long served() {
        return served;
    }

    /**
     * Frames the request of {@code n} bytes at the start of {@code in} (fuse_in_header decoded in place, the body
     * bounded by {@code n}) and serves it through {@code request}; a malformed one is answered EINVAL. Also the
     * ring's framing ({@link FuseUringQueue}), which puts the headers back in front of the payload first.
     */
    static void serveFramed(ByteBuffer in, int n, ChannelRequest request, Dispatcher dispatcher) {
        if (n < 16) {
            // not even a unique to answer to
            dispatcher.errors().warn(LOG, "runt", "a request of " + n + " bytes has no header: dropped");
            return;
        }
        long unique = in.getLong(8);
        if (n < FuseAbi.IN_HEADER_SIZE) {
            refuse(request, dispatcher, in.getInt(4), unique, n + " bytes, shorter than fuse_in_header");
            return;
        }
        int len = in.getInt(0);
        int opcode = in.getInt(4);
        if (len != n) {
            refuse(request, dispatcher, opcode, unique,
                    "header says " + Integer.toUnsignedString(len) + " bytes, " + n + " were read");
            return;
        }
        int extlen = Short.toUnsignedInt(in.getShort(36)) * 8;
        int bodyEnd = n - extlen;
        if (bodyEnd < FuseAbi.IN_HEADER_SIZE) {
            refuse(request, dispatcher, opcode, unique, "extensions of " + extlen + " bytes overrun the body");
            return;
        }
        ByteBuffer body = in.duplicate().order(ByteOrder.nativeOrder());
        body.limit(bodyEnd).position(FuseAbi.IN_HEADER_SIZE);
        request.reset(opcode, unique, in.getLong(16), in.getInt(24), in.getInt(28), in.getInt(32), body);
        dispatcher.dispatch(request);
    }

    /** Answers a request that cannot be framed EINVAL, under its unique. */
    private static void refuse(ChannelRequest request, Dispatcher dispatcher, int opcode, long unique, String why) {
        dispatcher.errors().warn(LOG, "frame", "a malformed request (opcode " + opcode + "): " + why + ": EINVAL");
        request.reset(opcode, unique, 0, 0, 0, 0, ByteBuffer.allocate(0));
        if (FuseAbi.noReply(opcode)) {
            request.noReply();
        } else {
            request.fail(FuseAbi.EINVAL);
        }
    }
}
