package jbtrfs.fuse.kernel;

/**
 * How a native session serves: worker threads (one cloned channel each) and what INIT asks of the kernel.
 *
 * @param threads        worker threads, each reading its own cloned /dev/fuse channel (1 to 256)
 * @param writebackCache FUSE_WRITEBACK_CACHE: the kernel caches writes and sends them in large batches
 * @param posixAcl       FUSE_POSIX_ACL: the kernel enforces the system.posix_acl_* xattrs (the node layer's call)
 * @param maxReadahead   the readahead window in bytes INIT offers (the kernel keeps the smaller of it and its own)
 * @param maxBackground  asynchronous requests (readahead, writeback) the kernel keeps in flight
 * @param ioUring        FUSE over io_uring where the kernel offers it ({@link FuseUring}), /dev/fuse reads otherwise
 */
public record SessionOptions(int threads, boolean writebackCache, boolean posixAcl, int maxReadahead,
                             int maxBackground, boolean ioUring) {
    /** The largest READ and WRITE payload: 256 pages of 4 KiB, one request per MiB. */
    public static final int MAX_WRITE = 1 << 20;
    public static final int MAX_PAGES = 256;

    public SessionOptions {
        if (threads < 1 || threads > 256) throw new IllegalArgumentException("threads must be 1 to 256: " + threads);
        if (maxBackground < 1 || maxBackground > 65535) {
            throw new IllegalArgumentException("max_background must be 1 to 65535: " + maxBackground);
        }
    }

    /** Without io_uring. */
    public SessionOptions(int threads, boolean writebackCache, boolean posixAcl, int maxReadahead,
                          int maxBackground) {
        this(threads, writebackCache, posixAcl, maxReadahead, maxBackground, false);
    }

    /** Four workers, writeback caching on, 1 MiB readahead, 64 requests in the background. */
    public static SessionOptions defaults() {
        return new SessionOptions(4, true, false, 1 << 20, 64);
    }

    public SessionOptions withThreads(int n) {
        return new SessionOptions(n, writebackCache, posixAcl, maxReadahead, maxBackground, ioUring);
    }

    public SessionOptions withWritebackCache(boolean on) {
        return new SessionOptions(threads, on, posixAcl, maxReadahead, maxBackground, ioUring);
    }

    public SessionOptions withPosixAcl(boolean on) {
        return new SessionOptions(threads, writebackCache, on, maxReadahead, maxBackground, ioUring);
    }

    public SessionOptions withMaxReadahead(int bytes) {
        return new SessionOptions(threads, writebackCache, posixAcl, bytes, maxBackground, ioUring);
    }

    public SessionOptions withIoUring(boolean on) {
        return new SessionOptions(threads, writebackCache, posixAcl, maxReadahead, maxBackground, on);
    }

    /** The INIT flags asked for; the kernel grants those it also offers. */
    long wantedFlags() {
        long f = FuseAbi.ASYNC_READ | FuseAbi.ATOMIC_O_TRUNC | FuseAbi.EXPORT_SUPPORT | FuseAbi.BIG_WRITES
                | FuseAbi.HAS_IOCTL_DIR | FuseAbi.DO_READDIRPLUS | FuseAbi.READDIRPLUS_AUTO | FuseAbi.PARALLEL_DIROPS
                | FuseAbi.MAX_PAGES | FuseAbi.CACHE_SYMLINKS | FuseAbi.HANDLE_KILLPRIV_V2 | FuseAbi.INIT_EXT;
        if (writebackCache) f |= FuseAbi.WRITEBACK_CACHE;
        // with ACLs the umask is fs-core's to apply (a default ACL overrides it) and an ACL may have to drop sgid
        if (posixAcl) f |= FuseAbi.POSIX_ACL | FuseAbi.DONT_MASK | FuseAbi.SETXATTR_EXT;
        if (ioUring) f |= FuseAbi.OVER_IO_URING;
        return f;
    }
}
