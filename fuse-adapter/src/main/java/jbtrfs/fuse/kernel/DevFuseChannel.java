package jbtrfs.fuse.kernel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import com.kenai.jffi.MemoryIO;

import jnr.ffi.LastError;
import jnr.ffi.Runtime;

/** A /dev/fuse fd: the session's own (from mount or fusermount) or a clone of it. */
final class DevFuseChannel implements FuseChannel {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    /** Two struct iovec per writing thread: a worker writes its replies, any thread may write a notification. */
    private static final ThreadLocal<ByteBuffer> IOV = ThreadLocal.withInitial(
            () -> ByteBuffer.allocateDirect(32).order(ByteOrder.nativeOrder()));

    private final FuseLibC libc;
    private final int fd;
    private volatile boolean closed;

    DevFuseChannel(FuseLibC libc, int fd) {
        this.libc = libc;
        this.fd = fd;
    }

    int fd() {
        return fd;
    }

    @Override
    public int read(ByteBuffer dst) throws ChannelException {
        long n = libc.read(fd, address(dst), dst.remaining());
        if (n < 0) throw error("read of /dev/fuse");
        return (int) n;
    }

    @Override
    public void write(ByteBuffer header, ByteBuffer payload) throws ChannelException {
        ByteBuffer iov = IOV.get();
        iov.putLong(0, address(header)).putLong(8, header.remaining());
        int count = 1;
        if (payload != null && payload.hasRemaining()) {
            if (!payload.isDirect()) throw new IllegalArgumentException("a reply payload must be a direct buffer");
            iov.putLong(16, address(payload)).putLong(24, payload.remaining());
            count = 2;
        }
        if (libc.writev(fd, MEMORY.getDirectBufferAddress(iov), count) < 0) throw error("write to /dev/fuse");
    }

    @Override
    public FuseChannel cloneChannel() throws IOException {
        int clone = libc.open("/dev/fuse", FuseLibC.O_RDWR | FuseLibC.O_CLOEXEC, 0);
        if (clone < 0) throw error("open of /dev/fuse");
        ByteBuffer arg = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putInt(0, fd);
        if (libc.ioctl(clone, FuseAbi.DEV_IOC_CLONE, MEMORY.getDirectBufferAddress(arg)) < 0) {
            ChannelException e = error("FUSE_DEV_IOC_CLONE");
            libc.close(clone);
            throw e;
        }
        return new DevFuseChannel(libc, clone);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        libc.close(fd);
    }

    private static long address(ByteBuffer b) {
        return MEMORY.getDirectBufferAddress(b) + b.position();
    }

    private ChannelException error(String what) {
        int errno = LastError.getLastError(Runtime.getRuntime(libc));
        return new ChannelException(errno, what + " failed: " + libc.strerror(errno));
    }
}
