package jbtrfs;

/**
 * The Linux errno values fs-core answers with (kernel values, asm-generic/errno-base.h and errno.h), each marked
 * whether it is an ordinary answer (a name that does not exist, a full disk: no log line) or a sign of damage or of
 * a bug (EIO, EUCLEAN: worth a log line).
 */
public enum Errno {
    /** Operation not permitted: an immutable or append-only inode, a hard link to a directory. */
    EPERM(1, true),
    /** No such file or directory. */
    ENOENT(2, true),
    /** I/O error: damage, a failed device, an aborted transaction, a bug. */
    EIO(5, false),
    /** No such device or address (SEEK_DATA/SEEK_HOLE past the end). */
    ENXIO(6, true),
    /** Argument list too long (an xattr list past what the caller can take). */
    E2BIG(7, true),
    /** Bad file handle. */
    EBADF(9, true),
    /** Try again. */
    EAGAIN(11, true),
    /** Permission denied. */
    EACCES(13, true),
    /** File exists. */
    EEXIST(17, true),
    /** Cross-device link: a link or rename across subvolumes. */
    EXDEV(18, true),
    /** No such device (an ioctl naming a device this filesystem does not have). */
    ENODEV(19, true),
    /** Not a directory. */
    ENOTDIR(20, true),
    /** Is a directory. */
    EISDIR(21, true),
    /** Invalid argument. */
    EINVAL(22, true),
    /** Inappropriate ioctl for device. */
    ENOTTY(25, true),
    /** File too large: past the largest offset a Btrfs file can hold. */
    EFBIG(27, true),
    /** No space left on device, for data or metadata. */
    ENOSPC(28, true),
    /** Read-only filesystem. */
    EROFS(30, true),
    /** Too many links: an inode ref full of names. */
    EMLINK(31, true),
    /** Result too large for the caller's buffer. */
    ERANGE(34, true),
    /** A name over 255 bytes. */
    ENAMETOOLONG(36, true),
    /** Function not implemented. */
    ENOSYS(38, true),
    /** Directory not empty. */
    ENOTEMPTY(39, true),
    /** No data: an extended attribute that is not set. */
    ENODATA(61, true),
    /** Value too large for its type. */
    EOVERFLOW(75, true),
    /** Operation not supported (ENOTSUP is the same number on Linux). */
    EOPNOTSUPP(95, true),
    /** Not connected: no scrub runs (SCRUB_PROGRESS, SCRUB_CANCEL). */
    ENOTCONN(107, true),
    /** Operation now in progress: a scrub runs already. */
    EINPROGRESS(115, true),
    /** Structure needs cleaning: the kernel's answer for a corrupt tree block. */
    EUCLEAN(117, false);

    private final int number;
    private final boolean ordinary;

    Errno(int number, boolean ordinary) {
        this.number = number;
        this.ordinary = ordinary;
    }

    /** The positive Linux number. */
    public int number() { return number; }

    /** Whether this is an ordinary answer to a request, not worth a log line. */
    public boolean ordinary() { return ordinary; }
}
