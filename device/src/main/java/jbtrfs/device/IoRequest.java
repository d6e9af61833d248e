package jbtrfs.device;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * One request for the device queue: read or write {@code buffer}'s remaining bytes at a byte offset, or flush.
 *
 * <p>The I/O is absolute: the buffer's position and limit are read at submit time and never changed, so one
 * buffer may be reused once its request has completed. The buffer must not be touched while the request is in
 * flight.
 *
 * <p>{@code bulk}: a write of file data that no one is about to read back, which an engine may send around the
 * page cache; tree blocks and superblocks are not bulk (they are reread, and a commit writes few of them).
 */
public record IoRequest(Op op, long offset, ByteBuffer buffer, boolean bulk) {

    /** What a request does. */
    public enum Op {
        /** Fill the buffer from the device. */
        READ,
        /** Store the buffer on the device. */
        WRITE,
        /** Make every write that completed before this flush was submitted durable (fdatasync). */
        FLUSH
    }

    public IoRequest {
        Objects.requireNonNull(op, "op");
        if (op != Op.FLUSH) Objects.requireNonNull(buffer, "buffer");
    }

    /** A read of {@code dst.remaining()} bytes at {@code offset}. */
    public static IoRequest read(long offset, ByteBuffer dst) { return new IoRequest(Op.READ, offset, dst, false); }

    /** A write of {@code src.remaining()} bytes at {@code offset}. */
    public static IoRequest write(long offset, ByteBuffer src) { return new IoRequest(Op.WRITE, offset, src, false); }

    /** A bulk write (file data) of {@code src.remaining()} bytes at {@code offset}. */
    public static IoRequest bulkWrite(long offset, ByteBuffer src) {
        return new IoRequest(Op.WRITE, offset, src, true);
    }

    /** A flush: writes completed before it was submitted are durable when it completes. */
    public static IoRequest flush() { return new IoRequest(Op.FLUSH, 0, null, false); }

    /** Bytes this request moves (0 for a flush). */
    public int length() { return buffer == null ? 0 : buffer.remaining(); }
}
