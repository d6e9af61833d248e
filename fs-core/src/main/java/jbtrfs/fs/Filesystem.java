package jbtrfs.fs;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An opened Btrfs image: the entry point of fs-core.
 *
 * <p>{@link #open} reads the superblock, bootstraps the chunk tree and checks the feature flags; an image it
 * cannot serve is refused with an {@link jbtrfs.UnsupportedImageException} whose message is one line naming the
 * problem. {@link #operations()} is what the FUSE adapter calls.
 */
public final class Filesystem implements Closeable {

    private Filesystem() {
    }

    /** Opens the image at {@code image}. */
    public static Filesystem open(Path image, MountOptions options) throws IOException {
        throw new UnsupportedOperationException("not implemented");
    }

    /** The operations by inode that the adapter calls. */
    public FsOperations operations() {
        throw new UnsupportedOperationException("not implemented");
    }

    /** A summary for people. */
    public FsInfo info() throws IOException {
        throw new UnsupportedOperationException("not implemented");
    }

    /** Counts of checksum failures, mirror retries and corrupt blocks met since open. */
    public ReadCounters counters() {
        throw new UnsupportedOperationException("not implemented");
    }

    /** Whether the image is open read-only (always, until the write path lands). */
    public boolean readOnly() {
        return true;
    }

    @Override
    public void close() throws IOException {
    }

    /** Counters of read-path events that a person or a metrics endpoint wants to see. */
    public record ReadCounters(long dataChecksumFailures, long metadataChecksumFailures, long mirrorRetries,
                               long corruptBlocks) {
    }
}
