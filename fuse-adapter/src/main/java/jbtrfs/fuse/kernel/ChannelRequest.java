package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request a worker is serving, reused for each of its requests: the header's fields, the body in place in the
 * worker's read buffer, and a reply written as fuse_out_header and payload in one writev.
 */
final class ChannelRequest implements FuseRequest {
    private static final Logger LOG = LoggerFactory.getLogger(ChannelRequest.class);

    private final FuseChannel channel;
    private final Interrupts interrupts;
    private final ByteBuffer header = ByteBuffer.allocateDirect(FuseAbi.OUT_HEADER_SIZE)
            .order(ByteOrder.nativeOrder());
    private ByteBuffer replyBuffer;
    private final OnceLog errors;

    private int opcode;
    private long unique;
    private long nodeId;
    private int uid;
    private int gid;
    private int pid;
    private InArgs in;
    private boolean answered;
    private ByteBuffer replyArea;

    ChannelRequest(FuseChannel channel, Interrupts interrupts, int replyCapacity, OnceLog errors) {
        this.channel = channel;
        this.interrupts = interrupts;
        // a READ's data lands at the start: page-aligned, the device reads it there directly (PageBuffers)
        this.replyBuffer = PageBuffers.allocate(replyCapacity, 0);
        this.errors = errors;
    }

    /** Starts serving the next request; {@code body} is its body, bounded by the header's len. */
    void reset(int opcode, long unique, long nodeId, int uid, int gid, int pid, ByteBuffer body) {
        this.opcode = opcode;
        this.unique = unique;
        this.nodeId = nodeId;
        this.uid = uid;
        this.gid = gid;
        this.pid = pid;
        this.in = new InArgs(body);
        this.answered = false;
    }

    /**
     * Has {@link #replyBuffer} hand out {@code area} (null: its own buffer) until called again: a ring entry's
     * payload buffer, so that a reply is built where the kernel takes it from, when no request bytes lie there.
     */
    void replyIn(ByteBuffer area) {
        this.replyArea = area;
    }

    boolean answered() {
        return answered;
    }

    @Override
    public int opcode() {
        return opcode;
    }

    @Override
    public long unique() {
        return unique;
    }

    @Override
    public long nodeId() {
        return nodeId;
    }

    @Override
    public int uid() {
        return uid;
    }

    @Override
    public int gid() {
        return gid;
    }

    @Override
    public int pid() {
        return pid;
    }

    @Override
    public InArgs in() {
        return in;
    }

    @Override
    public boolean interrupted() {
        return interrupts.interrupted(unique);
    }

    @Override
    public ByteBuffer replyBuffer(int capacity) {
        if (capacity < 0) throw new IllegalArgumentException("negative reply capacity " + capacity);
        if (replyArea != null && capacity <= replyArea.capacity()) {
            replyArea.clear();
            return replyArea;
        }
        // the kernel never asks for more than max_pages of data; a larger wish (a huge xattr list) is served once
        if (capacity > replyBuffer.capacity()) {
            return ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
        }
        replyBuffer.clear();
        return replyBuffer;
    }

    @Override
    public void reply(ByteBuffer payload) {
        ByteBuffer view = payload.duplicate();
        view.limit(view.position()).position(0);
        if (!view.isDirect()) {
            ByteBuffer copy = replyBuffer(view.remaining());
            copy.put(view).flip();
            view = copy;
        }
        send(0, view);
    }

    @Override
    public void reply() {
        send(0, null);
    }

    @Override
    public void fail(int errno) {
        if (errno <= 0 || errno > 4095) throw new IllegalArgumentException("not an errno: " + errno);
        send(-errno, null);
    }

    @Override
    public void noReply() {
        if (answered) throw new IllegalStateException("request " + unique + " was answered already");
        answered = true;
    }

    private void send(int error, ByteBuffer payload) {
        if (answered) throw new IllegalStateException("request " + unique + " was answered already");
        answered = true;
        if (FuseAbi.noReply(opcode)) return;   // the kernel waits for no answer and would refuse one
        int length = FuseAbi.OUT_HEADER_SIZE + (payload == null ? 0 : payload.remaining());
        header.clear();
        header.putInt(length).putInt(error).putLong(unique).flip();
        try {
            channel.write(header, payload);
        } catch (ChannelException e) {
            // ENOENT: the request was interrupted and is gone; ENODEV: the mount is gone and the read will say so
            if (e.errno() == FuseAbi.ENOENT || e.errno() == FuseAbi.ENODEV) return;
            errors.warn(LOG, "reply-" + e.errno(), "a reply to opcode " + opcode + " was refused: " + e.getMessage());
        }
    }
}
