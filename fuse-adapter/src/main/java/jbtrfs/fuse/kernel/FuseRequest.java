package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;

/**
 * One request read from /dev/fuse: fuse_in_header's fields and the body after it. Valid until it is replied to;
 * its buffers belong to the worker and are reused after that.
 */
public interface FuseRequest {
    int opcode();

    long unique();

    long nodeId();

    int uid();

    int gid();

    int pid();

    /** The body after fuse_in_header, bounded by the header's len: every read is checked. */
    InArgs in();

    /** Whether the kernel has sent an INTERRUPT naming this request; a long operation may stop and fail EINTR. */
    boolean interrupted();

    /**
     * A native-order buffer of at least {@code capacity} bytes, position 0, to build the reply payload in (say a
     * fuse_entry_out, or file data read straight into it). Only one per request.
     */
    ByteBuffer replyBuffer(int capacity);

    /** Success with payload {@code [0, payload.position())} of {@code payload} (usually {@link #replyBuffer}). */
    void reply(ByteBuffer payload);

    /** Success with no payload. */
    void reply();

    /** Failure with a positive errno, e.g. 2 for ENOENT. */
    void fail(int errno);

    /** FORGET and BATCH_FORGET: no reply is sent. */
    void noReply();
}
