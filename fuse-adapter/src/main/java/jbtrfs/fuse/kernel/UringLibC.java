package jbtrfs.fuse.kernel;

import jnr.ffi.annotations.SaveError;

import jbtrfs.device.LibcLoader;

/**
 * The one libc call io_uring needs, syscall(2): glibc has no wrappers for io_uring_setup and io_uring_enter, and
 * its mmap bound through jnr-ffi failed EINVAL here where the raw syscall maps the rings. Public only because
 * jnr-ffi implements it from another class loader.
 */
public interface UringLibC {
    /** io_uring's syscall numbers are the same on every architecture (mmap's are not: see {@link IoUring}). */
    long SYS_IO_URING_SETUP = 425;
    long SYS_IO_URING_ENTER = 426;

    @SaveError
    long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    static UringLibC get() {
        return Holder.LIBC;
    }

    /** Loaded on first use. */
    final class Holder {
        static final UringLibC LIBC = LibcLoader.load(UringLibC.class);

        private Holder() {
        }
    }
}
