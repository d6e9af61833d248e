package jbtrfs.device;

/** The few Linux errno values the device layer reports itself (kernel values, asm-generic/errno-base.h). */
public final class Errno {
    /** No such file or directory. */
    public static final int ENOENT = 2;
    /** Interrupted while waiting for queue space. */
    public static final int EINTR = 4;
    /** I/O error (also: a short read or write). */
    public static final int EIO = 5;
    /** Request outside the device. */
    public static final int ENXIO = 6;
    /** Write on a device opened read-only. */
    public static final int EBADF = 9;
    /** Try again (AIO ring full). */
    public static final int EAGAIN = 11;
    /** Device or resource busy (an O_EXCL open of a mounted block device). */
    public static final int EBUSY = 16;
    /** Bad argument (for example misaligned O_DIRECT offset or length). */
    public static final int EINVAL = 22;
    /** A discard on what cannot discard (neither a file nor a block device, or a device without the ioctl). */
    public static final int EOPNOTSUPP = 95;
    /** Device closed while the request was queued. */
    public static final int ESHUTDOWN = 108;

    private Errno() {
    }
}
