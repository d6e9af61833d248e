package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * A request as the kernel lays it out (native order, the in-args one after the other, names NUL-terminated), and
 * what the handler answered: a payload, an errno, or nothing (FORGET). Fails loudly on a second answer.
 */
final class FakeRequest implements FuseRequest {
    static final int UID = 0;
    static final int GID = 0;

    private final int opcode;
    private final long nodeId;
    private final InArgs in;
    private int uid = UID;
    private ByteBuffer replyBuffer;
    private ByteBuffer payload;
    private int errno;
    private boolean answered;
    private boolean noReply;

    FakeRequest(int opcode, long nodeId, Body body) {
        this.opcode = opcode;
        this.nodeId = nodeId;
        this.in = new InArgs(body.buffer().flip());
    }

    FakeRequest asUser(int uid) {
        this.uid = uid;
        return this;
    }

    /** The bytes of a request body, written as the kernel writes them. */
    static final class Body {
        private ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());

        Body u32(long v) {
            room(4).putInt((int) v);
            return this;
        }

        Body u64(long v) {
            room(8).putLong(v);
            return this;
        }

        Body name(String s) {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            room(bytes.length + 1).put(bytes).put((byte) 0);
            return this;
        }

        Body bytes(byte[] data) {
            room(data.length).put(data);
            return this;
        }

        private ByteBuffer room(int n) {
            if (b.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + n))
                        .order(ByteOrder.nativeOrder());
                b.flip();
                bigger.put(b);
                b = bigger;
            }
            return b;
        }

        ByteBuffer buffer() {
            return b;
        }
    }

    static Body body() {
        return new Body();
    }

    @Override
    public int opcode() {
        return opcode;
    }

    @Override
    public long unique() {
        return 1;
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
        return GID;
    }

    @Override
    public int pid() {
        return 1;
    }

    @Override
    public InArgs in() {
        return in;
    }

    @Override
    public boolean interrupted() {
        return false;
    }

    @Override
    public ByteBuffer replyBuffer(int capacity) {
        if (replyBuffer != null) throw new AssertionError("a second reply buffer");
        // direct, as the transport's pooled buffers are
        replyBuffer = ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
        return replyBuffer;
    }

    @Override
    public void reply(ByteBuffer p) {
        answer();
        ByteBuffer copy = ByteBuffer.allocate(p.position()).order(ByteOrder.nativeOrder());
        copy.put(p.duplicate().flip());
        payload = copy.flip();
    }

    @Override
    public void reply() {
        answer();
        payload = ByteBuffer.allocate(0).order(ByteOrder.nativeOrder());
    }

    @Override
    public void fail(int e) {
        answer();
        if (e <= 0) throw new AssertionError("errno " + e);
        errno = e;
    }

    @Override
    public void noReply() {
        answer();
        noReply = true;
    }

    private void answer() {
        if (answered) throw new AssertionError("answered twice");
        answered = true;
    }

    /** The payload of a successful reply; fails the test with the errno otherwise. */
    ByteBuffer payload() {
        if (!answered) throw new AssertionError("no answer");
        if (payload == null) throw new AssertionError("failed with errno " + errno + ", not answered");
        return payload.duplicate().order(ByteOrder.nativeOrder());
    }

    /** The errno of a failed reply, 0 for a success. */
    int errno() {
        if (!answered) throw new AssertionError("no answer");
        return errno;
    }

    boolean noReplySent() {
        return noReply;
    }
}
