package jbtrfs.device;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** The size of a block device, which FileChannel.size() may report as 0. */
final class BlockDeviceSize {
    private BlockDeviceSize() {
    }

    /** BLKGETSIZE64 through libc where it can be bound, else the length the JDK finds by seeking to the end. */
    static long of(Path path) throws IOException {
        LibC libc = LibC.load();
        if (libc != null) {
            int fd = libc.open(path.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
            if (fd >= 0) {
                long arg = NativeMemory.allocate(8);
                try {
                    if (libc.ioctl(fd, LibC.BLKGETSIZE64, arg) == 0) return NativeMemory.getLong(arg);
                } finally {
                    NativeMemory.free(arg, 8);
                    libc.close(fd);
                }
            }
        }
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "r")) {
            return raf.length();
        }
    }
}
