package jbtrfs.device;

import java.io.IOException;

/** An I/O request that failed, with the request's place and the errno when one is known (0 otherwise). */
public final class DeviceIoException extends IOException {
    private final long offset;
    private final long length;
    private final int errno;

    public DeviceIoException(String message, long offset, long length, int errno) {
        super(message + " (offset " + offset + ", length " + length + (errno != 0 ? ", errno " + errno : "") + ")");
        this.offset = offset;
        this.length = length;
        this.errno = errno;
    }

    public DeviceIoException(String message, long offset, long length, int errno, Throwable cause) {
        this(message, offset, length, errno);
        initCause(cause);
    }

    public long offset() { return offset; }

    public long length() { return length; }

    public int errno() { return errno; }
}
