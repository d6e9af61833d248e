package jbtrfs.fuse.kernel;

import java.lang.invoke.VarHandle;

import com.kenai.jffi.MemoryIO;

import jnr.ffi.LastError;
import jnr.ffi.Runtime;

/**
 * One io_uring (include/uapi/linux/io_uring.h) with 128-byte submission entries, as FUSE's ring commands need: set
 * up with the raw io_uring_setup(2), its rings and entries mapped, filled and reaped by one thread. The kernel reads
 * the submission tail and writes the completion tail concurrently, so tails are published with a release fence and
 * read with an acquire fence.
 */
final class IoUring implements AutoCloseable {
    /** IORING_SETUP_SQE128: 64 more bytes per entry, where a uring command's struct goes. */
    static final int SETUP_SQE128 = 1 << 10;
    static final int OP_URING_CMD = 46;
    static final int SQE_SIZE = 128;
    /** Where an IORING_OP_URING_CMD entry's command struct starts (sqe->cmd). */
    static final int SQE_CMD = 48;
    private static final int CQE_SIZE = 16;
    private static final int ENTER_GETEVENTS = 1;
    private static final int FEAT_SINGLE_MMAP = 1;
    private static final long OFF_SQ_RING = 0;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    /** struct io_uring_params: 10 words, then io_sqring_offsets and io_cqring_offsets of 40 bytes each. */
    private static final int PARAMS_SIZE = 120;
    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    private static final int PROT_READ_WRITE = 0x3;
    private static final int MAP_SHARED_POPULATE = 0x01 | 0x8000;
    /** mmap and munmap by number, which differs by architecture; -1 where it is not known here. */
    private static final long SYS_MMAP = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 9;
        case "aarch64", "riscv64" -> 222;
        default -> -1;
    };
    private static final long SYS_MUNMAP = SYS_MMAP == 9 ? 11 : 215;

    private final UringLibC libc;
    private final int fd;
    private final long sqRing;
    private final long sqRingSize;
    private final long cqRing;
    private final long cqRingSize;
    private final long sqes;
    private final long sqesSize;
    private final int sqEntries;
    private final long sqHead;
    private final long sqTail;
    private final int sqMask;
    private final long sqArray;
    private final long cqHead;
    private final long cqTail;
    private final int cqMask;
    private final long cqes;
    private int sqTailLocal;
    private boolean closed;

    private IoUring(UringLibC libc, int fd, long params, long sqRing, long sqRingSize, long cqRing, long cqRingSize,
                    long sqes, long sqesSize) {
        this.libc = libc;
        this.fd = fd;
        this.sqRing = sqRing;
        this.sqRingSize = sqRingSize;
        this.cqRing = cqRing;
        this.cqRingSize = cqRingSize;
        this.sqes = sqes;
        this.sqesSize = sqesSize;
        this.sqEntries = MEMORY.getInt(params);
        this.sqHead = sqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 40));
        this.sqTail = sqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 44));
        this.sqMask = MEMORY.getInt(sqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 48)));
        this.sqArray = sqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 64));
        this.cqHead = cqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 80));
        this.cqTail = cqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 84));
        this.cqMask = MEMORY.getInt(cqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 88)));
        this.cqes = cqRing + Integer.toUnsignedLong(MEMORY.getInt(params + 100));
        this.sqTailLocal = MEMORY.getInt(sqTail);
    }

    /** A ring of {@code entries} submission entries (a power of two) and 128-byte entries. */
    static IoUring setup(UringLibC libc, int entries) throws ChannelException {
        if (SYS_MMAP < 0) {
            throw new ChannelException(FuseAbi.ENOSYS, "io_uring on " + System.getProperty("os.arch")
                    + " is not known here");
        }
        long params = MEMORY.allocateMemory(PARAMS_SIZE, true);
        try {
            MEMORY.putInt(params + 8, SETUP_SQE128);
            long fd = libc.syscall(UringLibC.SYS_IO_URING_SETUP, entries, params, 0, 0, 0, 0);
            if (fd < 0) throw error(libc, "io_uring_setup");
            int sqEntries = MEMORY.getInt(params);
            int cqEntries = MEMORY.getInt(params + 4);
            int features = MEMORY.getInt(params + 20);
            long sqSize = Integer.toUnsignedLong(MEMORY.getInt(params + 64)) + 4L * sqEntries;
            long cqSize = Integer.toUnsignedLong(MEMORY.getInt(params + 100)) + (long) CQE_SIZE * cqEntries;
            boolean single = (features & FEAT_SINGLE_MMAP) != 0;
            if (single) sqSize = cqSize = Math.max(sqSize, cqSize);
            long sq = map(libc, (int) fd, sqSize, OFF_SQ_RING);
            long cq = single ? sq : map(libc, (int) fd, cqSize, OFF_CQ_RING);
            long sqeBytes = (long) SQE_SIZE * sqEntries;
            long sqes = map(libc, (int) fd, sqeBytes, OFF_SQES);
            if (sq == 0 || cq == 0 || sqes == 0) {
                ChannelException e = error(libc, "mmap of an io_uring");
                if (sq != 0) unmap(libc, sq, sqSize);
                if (cq != 0 && !single) unmap(libc, cq, cqSize);
                if (sqes != 0) unmap(libc, sqes, sqeBytes);
                FuseLibC.get().close((int) fd);
                throw e;
            }
            return new IoUring(libc, (int) fd, params, sq, sqSize, cq, single ? 0 : cqSize, sqes, sqeBytes);
        } finally {
            MEMORY.freeMemory(params);
        }
    }

    private static long map(UringLibC libc, int fd, long size, long offset) {
        long a = libc.syscall(SYS_MMAP, 0, size, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset);
        return a == -1 ? 0 : a;
    }

    private static void unmap(UringLibC libc, long address, long size) {
        libc.syscall(SYS_MUNMAP, address, size, 0, 0, 0, 0);
    }

    /**
     * The address of the next free submission entry, zeroed; it reaches the kernel at the next {@link #enter}.
     * Fails when every entry waits for submission.
     */
    long nextSqe() {
        int head = MEMORY.getInt(sqHead);
        VarHandle.acquireFence();
        if (sqTailLocal - head >= sqEntries) throw new IllegalStateException("the submission ring is full");
        int index = sqTailLocal & sqMask;
        long sqe = sqes + (long) index * SQE_SIZE;
        MEMORY.setMemory(sqe, SQE_SIZE, (byte) 0);
        MEMORY.putInt(sqArray + 4L * index, index);
        sqTailLocal++;
        return sqe;
    }

    /**
     * Publishes the entries filled since the last call and waits until at least {@code waitFor} completions are
     * there; returns the entries the kernel took. Fails with the errno (EINTR when a signal came first).
     */
    int enter(int waitFor) throws ChannelException {
        // what the kernel has not taken yet, also entries published before an enter that a signal cut short
        int head = MEMORY.getInt(sqHead);
        VarHandle.acquireFence();
        int toSubmit = sqTailLocal - head;
        VarHandle.releaseFence();
        MEMORY.putInt(sqTail, sqTailLocal);
        long n = libc.syscall(UringLibC.SYS_IO_URING_ENTER, fd, toSubmit, waitFor,
                waitFor > 0 ? ENTER_GETEVENTS : 0, 0, 0);
        if (n < 0) throw error(libc, "io_uring_enter");
        return (int) n;
    }

    /** The address of the oldest completion not yet consumed, or 0 when there is none. */
    long peekCqe() {
        int head = MEMORY.getInt(cqHead);
        int tail = MEMORY.getInt(cqTail);
        VarHandle.acquireFence();
        return head == tail ? 0 : cqes + (long) (head & cqMask) * CQE_SIZE;
    }

    static long cqeUserData(long cqe) {
        return MEMORY.getLong(cqe);
    }

    static int cqeResult(long cqe) {
        return MEMORY.getInt(cqe + 8);
    }

    /** Gives the completion {@link #peekCqe} returned back to the kernel. */
    void consumeCqe() {
        int head = MEMORY.getInt(cqHead);
        VarHandle.releaseFence();
        MEMORY.putInt(cqHead, head + 1);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        unmap(libc, sqes, sqesSize);
        if (cqRingSize != 0) unmap(libc, cqRing, cqRingSize);
        unmap(libc, sqRing, sqRingSize);
        FuseLibC.get().close(fd);
    }

    private static ChannelException error(UringLibC libc, String what) {
        int errno = LastError.getLastError(Runtime.getRuntime(libc));
        return new ChannelException(errno, what + " failed: " + FuseLibC.get().strerror(errno));
    }
}
