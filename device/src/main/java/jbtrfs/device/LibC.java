package jbtrfs.device;

import java.util.Locale;

import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.SaveError;

/**
 * The few libc calls the device needs that Java does not offer: open with O_DIRECT or O_EXCL, ioctl sizes and loop
 * status, fdatasync, flock, fallocate.
 */
public interface LibC {
    /** Open flags (Linux x86_64 / aarch64 values, asm-generic/fcntl.h). */
    int O_RDONLY = 0;
    int O_RDWR = 2;
    /** On a block device (without O_CREAT): fails with EBUSY while it is mounted or another O_EXCL open holds it. */
    int O_EXCL = 0x80;
    int O_DIRECT = 0x4000;
    int O_CLOEXEC = 0x80000;
    /** ioctl: u64 size in bytes of a block device (_IOR(0x12, 114, size_t)). */
    long BLKGETSIZE64 = 0x80081272L;
    /** ioctl: int logical sector size of a block device (_IO(0x12, 104)). */
    long BLKSSZGET = 0x1268L;
    /** ioctl: discard a byte range {u64 start, u64 length} of a block device (_IO(0x12, 119)). */
    long BLKDISCARD = 0x1277L;
    /** fallocate modes: keep the size, deallocate the range (linux/falloc.h). */
    int FALLOC_FL_KEEP_SIZE = 1;
    int FALLOC_FL_PUNCH_HOLE = 2;
    /** ioctl: struct loop_info64 of a loop device (linux/loop.h). */
    long LOOP_GET_STATUS64 = 0x4C05L;
    /** flock operations (sys/file.h): shared, exclusive, fail with EWOULDBLOCK instead of waiting. */
    int LOCK_SH = 1;
    int LOCK_EX = 2;
    int LOCK_NB = 4;

    @SaveError
    int open(String path, int flags, int mode);

    @SaveError
    int close(int fd);

    @SaveError
    int ioctl(int fd, long request, long argAddress);

    @SaveError
    int fdatasync(int fd);

    @SaveError
    int fallocate(int fd, int mode, long offset, long length);

    @SaveError
    int flock(int fd, int operation);

    @SaveError
    long pread(int fd, long buf, long count, long offset);

    @IgnoreError
    String strerror(int errno);

    /** The loaded library, or null when libc cannot be bound (not Linux, no jnr native stub). */
    static LibC load() {
        return Holder.LIBC;
    }

    /** Lazily loads libc once. */
    final class Holder {
        static final LibC LIBC = tryLoad();

        private Holder() {
        }

        private static LibC tryLoad() {
            try {
                if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) return null;
                return LibcLoader.load(LibC.class);
            } catch (Throwable t) {
                return null;
            }
        }
    }

    /** errno of the last failed call on this thread. */
    static int errno() {
        return jnr.ffi.Runtime.getSystemRuntime().getLastError();
    }
}
