package jbtrfs.fuse.kernel;

import java.io.IOException;

/** A read or write of a FUSE channel failed with {@code errno}. */
public final class ChannelException extends IOException {
    private final int errno;

    public ChannelException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
