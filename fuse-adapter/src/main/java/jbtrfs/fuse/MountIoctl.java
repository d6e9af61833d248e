package jbtrfs.fuse;

import java.io.Closeable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import com.kenai.jffi.MemoryIO;

import jnr.ffi.LastError;
import jnr.ffi.Runtime;
import jbtrfs.fuse.kernel.FuseLibC;

/**
 * An ioctl on a live mount's directory, as btrfs-progs calls the kernel's: the command line speaks to the daemon
 * through the mount itself (the node layer answers), so the caller's permissions are the kernel's to check.
 */
final class MountIoctl implements Closeable {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    private static final int O_DIRECTORY = 0200000;

    private final FuseLibC libc = FuseLibC.get();
    private final int fd;

    /** Opens the mountpoint; one line when it cannot be opened. */
    MountIoctl(Path mountpoint) throws CliException {
        fd = libc.open(mountpoint.toString(), O_DIRECTORY | FuseLibC.O_CLOEXEC, 0);
        if (fd < 0) throw new CliException("cannot open " + mountpoint + ": " + libc.strerror(errno()));
    }

    /** A direct buffer of {@code size} bytes in the kernel's (native) order, for {@link #call}. */
    static ByteBuffer args(int size) {
        return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
    }

    /** ioctl(fd, {@code cmd}, {@code arg}): 0, or the errno it failed with. */
    int call(long cmd, ByteBuffer arg) {
        long address = arg == null ? 0 : MEMORY.getDirectBufferAddress(arg);
        return libc.ioctl(fd, cmd, address) < 0 ? errno() : 0;
    }

    /** The text of {@code errno}. */
    String describe(int errno) {
        return libc.strerror(errno);
    }

    private int errno() {
        return LastError.getLastError(Runtime.getRuntime(libc));
    }

    @Override
    public void close() {
        libc.close(fd);
    }
}
