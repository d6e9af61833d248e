package jbtrfs.fuse.kernel;

import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.SaveError;

/**
 * The libc calls io_uring needs: the raw syscalls (glibc has no wrappers for io_uring_setup and io_uring_enter) and
 * mmap of its rings. Public only because jnr-ffi implements it from another class loader.
 */
public interface UringLibC {
    int PROT_READ_WRITE = 0x3;
    int MAP_SHARED_POPULATE = 0x01 | 0x8000;
    long MAP_FAILED = -1L;

    @SaveError
    long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    @SaveError
    long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    @SaveError
    int munmap(long addr, long length);

    static UringLibC get() {
        return Holder.LIBC;
    }

    /** Loaded on first use. */
    final class Holder {
        static final UringLibC LIBC = LibraryLoader.create(UringLibC.class).failImmediately().load("c");

        private Holder() {
        }
    }
}
