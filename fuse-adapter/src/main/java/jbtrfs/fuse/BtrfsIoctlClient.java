package jbtrfs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import com.kenai.jffi.MemoryIO;
import jnr.ffi.LastError;
import jnr.ffi.Runtime;

import jbtrfs.fuse.kernel.FuseLibC;

/**
 * A file or directory of a mount opened to send it btrfs ioctls, as btrfs-progs does: the commands speak to the
 * daemon only through the kernel's ioctl ABI on the mount itself.
 */
final class BtrfsIoctlClient implements AutoCloseable {
    private static final int O_RDONLY = 0;
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private final FuseLibC libc = FuseLibC.get();
    private final Path path;
    private final int fd;

    BtrfsIoctlClient(Path path) throws CliException {
        this.path = path;
        this.fd = libc.open(path.toString(), O_RDONLY | FuseLibC.O_CLOEXEC, 0);
        if (fd < 0) throw new CliException("cannot access '" + path + "': " + lastError());
    }

    /** The descriptor (a snapshot's source is named by one). */
    int fd() { return fd; }

    /** A zeroed direct native-order buffer for an ioctl's struct and whatever follows it. */
    static ByteBuffer buffer(int size) {
        return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
    }

    /** ioctl(2) with {@code arg} (a direct buffer); a failure is one line naming {@code what} and the errno. */
    void ioctl(int cmd, ByteBuffer arg, String what) throws CliException {
        long address = arg == null ? 0 : MEMORY.getDirectBufferAddress(arg);
        if (libc.ioctl(fd, Integer.toUnsignedLong(cmd), address) < 0) {
            throw new CliException(what + " '" + path + "': " + lastError());
        }
    }

    /** ioctl(2) with {@code arg} (a direct buffer, or null): 0, or the errno it failed with, for the caller to judge. */
    int call(long cmd, ByteBuffer arg) {
        long address = arg == null ? 0 : MEMORY.getDirectBufferAddress(arg);
        return libc.ioctl(fd, cmd, address) < 0 ? errno() : 0;
    }

    /** The text of {@code errno}. */
    String describe(int errno) {
        return libc.strerror(errno);
    }

    /**
     * syncfs(2): hands the daemon what the kernel still caches (writeback caching keeps written pages in the
     * kernel until then), which BTRFS_IOC_SYNC alone would not commit.
     */
    void syncfs() throws CliException {
        if (libc.syncfs(fd) < 0) throw new CliException("sync failed on '" + path + "': " + lastError());
    }

    String lastError() {
        return libc.strerror(errno());
    }

    private int errno() {
        return LastError.getLastError(Runtime.getRuntime(libc));
    }

    @Override
    public void close() {
        libc.close(fd);
    }
}
