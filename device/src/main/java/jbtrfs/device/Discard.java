package jbtrfs.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import com.kenai.jffi.MemoryIO;

/**
 * A discard of a file-backed device: a hole punched in an image file (fallocate PUNCH_HOLE|KEEP_SIZE, so the blocks
 * go back to the host and the size stays), BLKDISCARD on a block device. Done through a descriptor of its own, so
 * that it does not depend on the engine that reads and writes.
 */
final class Discard {
    private Discard() {
    }

    /** Discards {@code length} bytes at {@code offset} of the device at {@code path} of {@code size} bytes. */
    static void range(String path, boolean writable, long size, long offset, long length) throws IOException {
        if (!writable) throw new DeviceIoException("discard on a read-only device " + path, offset, length, Errno.EBADF);
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new DeviceIoException("discard past the end of " + path + " (size " + size + ")", offset, length,
                    Errno.ENXIO);
        }
        if (length == 0) return;
        LibC libc = LibC.load();
        Path p = Path.of(path);
        boolean file = Files.isRegularFile(p);
        if (libc == null || (!file && !Files.exists(p))) {
            throw new DeviceIoException("discard is not supported on " + path, offset, length, Errno.EOPNOTSUPP);
        }
        int fd = libc.open(path, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0) throw failed(libc, path, offset, length, LibC.errno());
        try {
            if (file) {
                if (libc.fallocate(fd, LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, offset, length) < 0) {
                    throw failed(libc, path, offset, length, LibC.errno());
                }
            } else {
                ByteBuffer range = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
                range.putLong(0, offset).putLong(8, length);
                long address = MemoryIO.getInstance().getDirectBufferAddress(range);
                if (libc.ioctl(fd, LibC.BLKDISCARD, address) < 0) throw failed(libc, path, offset, length, LibC.errno());
            }
        } finally {
            libc.close(fd);
        }
    }

    private static DeviceIoException failed(LibC libc, String path, long offset, long length, int errno) {
        return new DeviceIoException("discard failed on " + path + ": " + libc.strerror(errno), offset, length, errno);
    }
}
