package jbtrfs.device;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A file or block device addressed by byte offset. Knows nothing about Btrfs.
 *
 * <p>The synchronous {@link #read} is what the read path uses; batched submit and reap for the commit path
 * build on the same seam.
 */
public interface BlockDevice extends Closeable {

    /** Size of the device in bytes. */
    long size();

    /** The device's logical block size in bytes (the alignment O_DIRECT needs). */
    int logicalBlockSize();

    /** Whether I/O bypasses the page cache (O_DIRECT). */
    boolean directIo();

    /**
     * Reads exactly {@code dst.remaining()} bytes starting at {@code offset} into {@code dst}.
     * A read that would pass the end of the device fails; it never returns silent zeros.
     */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Opens a file or block device for reading only. */
    static BlockDevice openReadOnly(Path path) throws IOException {
        return FileChannelBlockDevice.open(path, false);
    }
}
