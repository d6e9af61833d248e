package jbtrfs.fuse;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.types.size_t;

/**
 * Every reply passes through here on its way to /dev/fuse, for two things libfuse 2 cannot ask of the kernel:
 * whole 1 MiB read and write requests (see {@link #withMaxPages}), and, on read-write mounts, attribute caching
 * everywhere but where libfuse's path-based API would make it wrong: files with more than one name.
 *
 * <p>libfuse 2's high-level API gives every name its own kernel inode (node id). A change made through one name of a
 * hard-linked file (chmod, a write, an unlink of another name) reaches only that name's kernel inode, so attributes
 * cached under the others would go stale. Without caching at all (attr_timeout=0), every path walk asks for every
 * directory's attributes again (default_permissions checks each component): an untar made 26 FUSE callbacks a
 * file, 17 with caching.
 *
 * <p>So the mount runs with a short attr_timeout, and every reply passes through here on its way to /dev/fuse (a
 * libfuse channel of our own whose send hook this is): a reply that carries a non-directory's attributes with
 * nlink above 1 gets a validity of zero, so those files are always asked. Two changes the kernel does not see as
 * attribute changes are made visible by invalidating the inode's cached attributes afterwards: the first link to
 * a file (6.x kernels then update only the ctime they cache) and a successful ioctl (chattr changes the ctime).
 */
final class ReplyFilter {
    // opcodes and layouts from linux/fuse.h (protocol 7.12 and later, which every kernel speaks)
    private static final int FUSE_LOOKUP = 1;
    private static final int FUSE_GETATTR = 3;
    private static final int FUSE_SETATTR = 4;
    private static final int FUSE_SYMLINK = 6;
    private static final int FUSE_MKNOD = 8;
    private static final int FUSE_MKDIR = 9;
    private static final int FUSE_LINK = 13;
    private static final int FUSE_CREATE = 35;
    private static final int FUSE_IOCTL = 39;
    private static final int FUSE_INIT = 26;

    /** struct fuse_in_header: len u32, opcode u32, unique u64, nodeid u64, uid, gid, pid, padding. */
    private static final int IN_OPCODE = 4;
    private static final int IN_UNIQUE = 8;
    private static final int IN_NODEID = 16;
    private static final int IN_HEADER_SIZE = 40;
    /** struct fuse_link_in: oldnodeid u64, right after the header. */
    private static final int LINK_OLDNODEID = IN_HEADER_SIZE;
    /** struct fuse_init_in: major, minor, max_readahead, flags (u32). */
    private static final int INIT_IN_FLAGS = IN_HEADER_SIZE + 12;
    /** struct fuse_init_out as libfuse 2 sends it (24 bytes), then time_gran (7.23, left 0: unchanged), max_pages. */
    private static final int INIT_OUT_MAX_READAHEAD = 8;
    private static final int INIT_OUT_FLAGS = 12;
    private static final int INIT_OUT_MAX_WRITE = 20;
    private static final int INIT_OUT_MAX_PAGES = 28;
    private static final int INIT_OUT_WITH_MAX_PAGES = 32;
    private static final int FUSE_MAX_PAGES = 1 << 22;
    /** struct fuse_out_header: len u32, error s32, unique u64. */
    private static final int OUT_LEN = 0;
    private static final int OUT_ERROR = 4;
    private static final int OUT_UNIQUE = 8;
    private static final int OUT_HEADER_SIZE = 16;
    /** struct fuse_entry_out: nodeid, generation, entry_valid, attr_valid (u64), their nsec (u32 x2), attr. */
    private static final int ENTRY_ATTR_VALID = 24;
    private static final int ENTRY_ATTR_VALID_NSEC = 36;
    private static final int ENTRY_ATTR = 40;
    /** struct fuse_attr_out: attr_valid u64, attr_valid_nsec u32, dummy u32, attr. */
    private static final int ATTR_OUT_VALID = 0;
    private static final int ATTR_OUT_VALID_NSEC = 8;
    private static final int ATTR_OUT_ATTR = 16;
    /** struct fuse_attr: ino, size, blocks, atime, mtime, ctime (u64), their nsec (u32 x3), mode, nlink, ... */
    private static final int ATTR_MODE = 60;
    private static final int ATTR_NLINK = 64;
    private static final int ATTR_END = 68;
    /** struct iovec: base pointer, size_t length. */
    private static final int IOVEC_SIZE = 16;
    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;

    /** libfuse 2.9's channel interface, as far as a send hook needs it. */
    public interface LibFuseChannel {
        Pointer fuse_chan_new(Pointer ops, int fd, @size_t long bufsize, Pointer data);

        int fuse_chan_fd(Pointer ch);

        int fuse_chan_send(Pointer ch, Pointer iov, @size_t long count);

        int fuse_lowlevel_notify_inval_inode(Pointer ch, long ino, long off, long len);
    }

    /** struct fuse_chan_ops's send: int (*send)(struct fuse_chan *ch, const struct iovec iov[], size_t count). */
    public interface SendHook {
        @Delegate
        int send(Pointer ch, Pointer iov, @size_t long count);
    }

    /** The request a worker thread is dispatching; replies are sent on the same thread, before dispatch returns. */
    private static final class InFlight {
        int opcode;
        long unique;
        long nodeid;
        long linkSource;
        int initFlags;
        boolean succeeded;
    }

    private final LibFuseChannel lib;
    /** Bytes a write request may carry, offered to the kernel at INIT (0: leave libfuse's 128 KiB). */
    private final int maxWrite;
    /** The readahead window in bytes, said at INIT (0: libfuse's answer, the kernel's offer). */
    private final int maxReadahead;
    /** Read-write mounts: keep hard-linked files' attributes out of the cache (read-only ones never change). */
    private final boolean attributes;
    private final Pointer kernelChannel;
    private final Pointer channel;
    private final SendHook hook = this::send;   // held: libfuse keeps a pointer to its closure
    private final ThreadLocal<InFlight> inFlight = ThreadLocal.withInitial(InFlight::new);

    /** A channel that sends through {@code kernelChannel} (the /dev/fuse one) after filtering. */
    ReplyFilter(LibFuseChannel lib, Pointer kernelChannel, long bufsize, int maxWrite, int maxReadahead,
                boolean attributes) {
        this.lib = lib;
        this.maxWrite = maxWrite;
        this.maxReadahead = maxReadahead;
        this.attributes = attributes;
        this.kernelChannel = kernelChannel;
        Runtime rt = Runtime.getSystemRuntime();
        // struct fuse_chan_ops { receive, send, destroy }: requests are received on the kernel channel, and this
        // channel is never added to the session, so never destroyed by it
        Pointer ops = Memory.allocateDirect(rt, 3L * rt.addressSize(), true);
        ops.putPointer(rt.addressSize(), rt.getClosureManager().getClosurePointer(SendHook.class, hook));
        this.channel = lib.fuse_chan_new(ops, lib.fuse_chan_fd(kernelChannel), bufsize, null);
        if (channel == null) throw new IllegalStateException("fuse_chan_new failed");
    }

    /** The channel to hand to fuse_session_process_buf. */
    Pointer channel() {
        return channel;
    }

    /** Notes the request in {@code in} (a whole request as read from /dev/fuse) before it is dispatched. */
    void beforeDispatch(Pointer in, long length) {
        InFlight r = inFlight.get();
        r.succeeded = false;
        if (length < IN_HEADER_SIZE) {
            r.opcode = 0;
            return;
        }
        r.opcode = in.getInt(IN_OPCODE);
        r.unique = in.getLong(IN_UNIQUE);
        r.nodeid = in.getLong(IN_NODEID);
        r.linkSource = r.opcode == FUSE_LINK && length >= LINK_OLDNODEID + 8 ? in.getLong(LINK_OLDNODEID) : 0;
        r.initFlags = r.opcode == FUSE_INIT && length >= INIT_IN_FLAGS + 4 ? in.getInt(INIT_IN_FLAGS) : 0;
    }

    /** Invalidates what the dispatched request changed behind the kernel's back. */
    void afterDispatch() {
        InFlight r = inFlight.get();
        if (!r.succeeded || !attributes) return;
        if (r.opcode == FUSE_LINK && r.linkSource != 0) invalidate(r.linkSource);
        else if (r.opcode == FUSE_IOCTL) invalidate(r.nodeid);
    }

    private void invalidate(long nodeid) {
        // a negative offset: attributes only, no page cache; ENOENT means the kernel holds no such inode
        lib.fuse_lowlevel_notify_inval_inode(kernelChannel, nodeid, -1, 0);
    }

    private int send(Pointer ch, Pointer iov, long count) {
        if (count >= 1) {
            Pointer header = iov.getPointer(0);
            InFlight r = inFlight.get();
            if (header != null && header.getLong(OUT_UNIQUE) == r.unique && header.getInt(OUT_ERROR) == 0) {
                r.succeeded = true;
                if (r.opcode == FUSE_INIT && count == 2 && maxReadahead > 0
                        && iov.getLong(IOVEC_SIZE + 8) >= INIT_OUT_MAX_READAHEAD + 4) {
                    // libfuse repeats the kernel's offer (128 KiB), and the kernel keeps the smaller of the reply and
                    // the window set in sysfs before (Readahead)
                    iov.getPointer(IOVEC_SIZE).putInt(INIT_OUT_MAX_READAHEAD, maxReadahead);
                }
                if (r.opcode == FUSE_INIT && count == 2 && maxWrite > 0 && (r.initFlags & FUSE_MAX_PAGES) != 0) {
                    Pointer init = withMaxPages(header, iov.getPointer(IOVEC_SIZE), iov.getLong(IOVEC_SIZE + 8));
                    if (init != null) return lib.fuse_chan_send(kernelChannel, init, 2);
                }
                if (count >= 2 && attributes) filter(r.opcode, iov.getPointer(IOVEC_SIZE), iov.getLong(IOVEC_SIZE + 8));
            }
        }
        return lib.fuse_chan_send(kernelChannel, iov, count);
    }

    /**
     * libfuse 2 answers INIT as protocol 7.19, whose requests carry at most 32 pages: a 1 MiB write reached us as
     * eight, each a round trip with its own getxattr of security.capability, and a 1 MiB readahead as eight reads.
     * Where the kernel offers FUSE_MAX_PAGES (4.20 and later), the reply grows by the fields up to max_pages and
     * says FUSE_MAX_PAGES and a max_write of {@link #maxWrite}, so a 1 MiB write comes whole, and so does a read up
     * to the mount's max_read. The workers' buffers hold such a request.
     */
    private Pointer withMaxPages(Pointer header, Pointer arg, long length) {
        if (length < INIT_OUT_MAX_WRITE + 4 || length >= INIT_OUT_WITH_MAX_PAGES) return null;
        Runtime rt = Runtime.getSystemRuntime();
        Pointer init = Memory.allocateDirect(rt, INIT_OUT_WITH_MAX_PAGES, true);
        for (int i = 0; i < length; i++) init.putByte(i, arg.getByte(i));
        init.putInt(INIT_OUT_FLAGS, init.getInt(INIT_OUT_FLAGS) | FUSE_MAX_PAGES);
        init.putInt(INIT_OUT_MAX_WRITE, maxWrite);
        init.putShort(INIT_OUT_MAX_PAGES, (short) (maxWrite / 4096));
        header.putInt(OUT_LEN, header.getInt(OUT_LEN) + (int) (INIT_OUT_WITH_MAX_PAGES - length));
        Pointer iov = Memory.allocateDirect(rt, 2L * IOVEC_SIZE, true);
        iov.putPointer(0, header);
        iov.putLong(8, OUT_HEADER_SIZE);
        iov.putPointer(IOVEC_SIZE, init);
        iov.putLong(IOVEC_SIZE + 8, INIT_OUT_WITH_MAX_PAGES);
        return iov;
    }

    private void filter(int opcode, Pointer arg, long length) {
        switch (opcode) {
            case FUSE_LOOKUP, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR, FUSE_LINK, FUSE_CREATE -> {
                if (length >= ENTRY_ATTR + ATTR_END && sharedByNames(arg, ENTRY_ATTR)) {
                    arg.putLong(ENTRY_ATTR_VALID, 0);
                    arg.putInt(ENTRY_ATTR_VALID_NSEC, 0);
                }
            }
            case FUSE_GETATTR, FUSE_SETATTR -> {
                if (length >= ATTR_OUT_ATTR + ATTR_END && sharedByNames(arg, ATTR_OUT_ATTR)) {
                    arg.putLong(ATTR_OUT_VALID, 0);
                    arg.putInt(ATTR_OUT_VALID_NSEC, 0);
                }
            }
            default -> { }
        }
    }

    /** Whether the fuse_attr at {@code offset} is a non-directory with more than one name. */
    private static boolean sharedByNames(Pointer arg, int offset) {
        return (arg.getInt(offset + ATTR_MODE) & S_IFMT) != S_IFDIR
                && Integer.compareUnsigned(arg.getInt(offset + ATTR_NLINK), 1) > 0;
    }
}
