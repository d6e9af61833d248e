package jbtrfs.fuse.node;

/** A request the node layer answers with an errno of its own (not fs-core's): EISDIR at open, ERANGE, ENOSYS. */
final class ReplyError extends RuntimeException {
    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int ENXIO = 6;
    static final int EBADF = 9;
    static final int ENOTDIR = 20;
    static final int EISDIR = 21;
    static final int EINVAL = 22;
    static final int ENOTTY = 25;
    static final int EROFS = 30;
    static final int ERANGE = 34;
    static final int ENOSYS = 38;
    static final int EOVERFLOW = 75;
    static final int EOPNOTSUPP = 95;

    private final int errno;

    ReplyError(int errno) {
        super("errno " + errno, null, false, false);
        this.errno = errno;
    }

    int errno() {
        return errno;
    }
}
