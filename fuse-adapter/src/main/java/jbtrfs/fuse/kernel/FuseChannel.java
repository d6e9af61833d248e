package jbtrfs.fuse.kernel;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One FUSE device fd as the request loop sees it: a whole request per read, a whole reply per write. Small so that
 * a test can drive the loop without /dev/fuse.
 */
interface FuseChannel extends AutoCloseable {
    /**
     * Reads one request into {@code dst} from its position (a direct buffer); returns the bytes read. Fails with
     * {@link ChannelException} carrying the errno (ENODEV once the mount is gone).
     */
    int read(ByteBuffer dst) throws ChannelException;

    /**
     * Writes one reply or notification: {@code header} (fuse_out_header) then {@code payload} (null or empty for
     * none), each from position to limit, as one write.
     */
    void write(ByteBuffer header, ByteBuffer payload) throws ChannelException;

    /** A new channel onto the same session for another worker (FUSE_DEV_IOC_CLONE). */
    FuseChannel cloneChannel() throws IOException;

    @Override
    void close();
}
