package jbtrfs.fuse.kernel;

/**
 * The FUSE kernel ABI's numbers (include/uapi/linux/fuse.h, protocol 7.45): opcodes, INIT flags, notify codes, the
 * sizes of the headers and of each opcode's fixed request struct. Names keep the C names without the FUSE_ prefix.
 */
public final class FuseAbi {
    private FuseAbi() {
    }

    public static final int KERNEL_VERSION = 7;
    /** The newest minor this transport speaks; it answers INIT with the smaller of this and the kernel's. */
    public static final int KERNEL_MINOR_VERSION = 45;
    /** The oldest minor it accepts: FUSE_INIT_EXT (flags2) came with 7.36 (Linux 5.17). */
    public static final int MIN_KERNEL_MINOR_VERSION = 36;

    /** struct fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, total_extlen, padding. */
    public static final int IN_HEADER_SIZE = 40;
    /** struct fuse_out_header: len, error, unique. */
    public static final int OUT_HEADER_SIZE = 16;
    /** struct fuse_init_out as of 7.23 and since (unused words included). */
    public static final int INIT_OUT_SIZE = 64;
    /** The kernel refuses reads into a buffer smaller than this. */
    public static final int MIN_READ_BUFFER = 8192;

    public static final int LOOKUP = 1;
    public static final int FORGET = 2;
    public static final int GETATTR = 3;
    public static final int SETATTR = 4;
    public static final int READLINK = 5;
    public static final int SYMLINK = 6;
    public static final int MKNOD = 8;
    public static final int MKDIR = 9;
    public static final int UNLINK = 10;
    public static final int RMDIR = 11;
    public static final int RENAME = 12;
    public static final int LINK = 13;
    public static final int OPEN = 14;
    public static final int READ = 15;
    public static final int WRITE = 16;
    public static final int STATFS = 17;
    public static final int RELEASE = 18;
    public static final int FSYNC = 20;
    public static final int SETXATTR = 21;
    public static final int GETXATTR = 22;
    public static final int LISTXATTR = 23;
    public static final int REMOVEXATTR = 24;
    public static final int FLUSH = 25;
    public static final int INIT = 26;
    public static final int OPENDIR = 27;
    public static final int READDIR = 28;
    public static final int RELEASEDIR = 29;
    public static final int FSYNCDIR = 30;
    public static final int GETLK = 31;
    public static final int SETLK = 32;
    public static final int SETLKW = 33;
    public static final int ACCESS = 34;
    public static final int CREATE = 35;
    public static final int INTERRUPT = 36;
    public static final int BMAP = 37;
    public static final int DESTROY = 38;
    public static final int IOCTL = 39;
    public static final int POLL = 40;
    public static final int NOTIFY_REPLY = 41;
    public static final int BATCH_FORGET = 42;
    public static final int FALLOCATE = 43;
    public static final int READDIRPLUS = 44;
    public static final int RENAME2 = 45;
    public static final int LSEEK = 46;
    public static final int COPY_FILE_RANGE = 47;
    public static final int SETUPMAPPING = 48;
    public static final int REMOVEMAPPING = 49;
    public static final int SYNCFS = 50;
    public static final int TMPFILE = 51;
    public static final int STATX = 52;
    public static final int COPY_FILE_RANGE_64 = 53;

    /** INIT flags; bits 32 and up travel in flags2 (with INIT_EXT). */
    public static final long ASYNC_READ = 1L << 0;
    public static final long POSIX_LOCKS = 1L << 1;
    public static final long ATOMIC_O_TRUNC = 1L << 3;
    public static final long EXPORT_SUPPORT = 1L << 4;
    public static final long BIG_WRITES = 1L << 5;
    public static final long DONT_MASK = 1L << 6;
    public static final long FLOCK_LOCKS = 1L << 10;
    public static final long HAS_IOCTL_DIR = 1L << 11;
    public static final long AUTO_INVAL_DATA = 1L << 12;
    public static final long DO_READDIRPLUS = 1L << 13;
    public static final long READDIRPLUS_AUTO = 1L << 14;
    public static final long ASYNC_DIO = 1L << 15;
    public static final long WRITEBACK_CACHE = 1L << 16;
    public static final long NO_OPEN_SUPPORT = 1L << 17;
    public static final long PARALLEL_DIROPS = 1L << 18;
    public static final long HANDLE_KILLPRIV = 1L << 19;
    public static final long POSIX_ACL = 1L << 20;
    public static final long ABORT_ERROR = 1L << 21;
    public static final long MAX_PAGES = 1L << 22;
    public static final long CACHE_SYMLINKS = 1L << 23;
    public static final long NO_OPENDIR_SUPPORT = 1L << 24;
    public static final long EXPLICIT_INVAL_DATA = 1L << 25;
    public static final long HANDLE_KILLPRIV_V2 = 1L << 28;
    public static final long SETXATTR_EXT = 1L << 29;
    public static final long INIT_EXT = 1L << 30;
    public static final long SECURITY_CTX = 1L << 32;
    public static final long CREATE_SUPP_GROUP = 1L << 34;
    public static final long HAS_EXPIRE_ONLY = 1L << 35;
    public static final long OVER_IO_URING = 1L << 41;

    /** Notify codes: the error field of an unsolicited message (unique 0). */
    public static final int NOTIFY_INVAL_INODE = 2;
    public static final int NOTIFY_INVAL_ENTRY = 3;
    public static final int NOTIFY_PRUNE = 9;
    /** The protocol minor that brought FUSE_NOTIFY_PRUNE (Linux 6.18). */
    public static final int PRUNE_MINOR = 45;

    /** ioctl on a /dev/fuse fd: attach it to the session whose fd the u32 argument names (_IOR(229, 0, u32)). */
    public static final long DEV_IOC_CLONE = 0x8004E500L;

    /** Errnos the session answers with itself (asm-generic/errno-base.h). */
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int EAGAIN = 11;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENOSYS = 38;
    public static final int EPROTO = 71;

    /**
     * The fixed struct at the front of each opcode's body, in bytes (the names after it are checked as they are
     * read); -1 for an opcode this transport does not know, which is answered ENOSYS.
     */
    public static int minBodySize(int opcode) {
        return switch (opcode) {
            case LOOKUP, UNLINK, RMDIR, REMOVEXATTR -> 1;               // a name: at least its NUL
            case READLINK, STATFS, DESTROY -> 0;
            case SYMLINK -> 2;                                          // two names
            case FORGET, INTERRUPT, OPEN, OPENDIR, ACCESS, GETXATTR, LISTXATTR, SYNCFS, BATCH_FORGET -> 8;
            case MKDIR, LINK -> 8 + 1;
            case RENAME -> 8 + 2;
            case SETXATTR -> 8 + 1;
            case GETATTR, FSYNC, FSYNCDIR, BMAP -> 16;
            case MKNOD, CREATE, TMPFILE -> 16 + 1;
            case RENAME2 -> 16 + 2;
            case INIT -> 16;                                            // major, minor, max_readahead, flags
            case RELEASE, RELEASEDIR, FLUSH, POLL, LSEEK, STATX -> 24;
            case IOCTL, FALLOCATE -> 32;
            case READ, READDIR, READDIRPLUS, WRITE -> 40;
            case GETLK, SETLK, SETLKW -> 48;
            case COPY_FILE_RANGE, COPY_FILE_RANGE_64 -> 56;
            case SETATTR -> 88;
            default -> -1;
        };
    }

    /** Whether the kernel expects no reply to {@code opcode}. */
    public static boolean noReply(int opcode) {
        return opcode == FORGET || opcode == BATCH_FORGET || opcode == INTERRUPT;
    }
}
