package jbtrfs.fuse.kernel;

import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

import jbtrfs.device.LibcLoader;

/**
 * The libc calls the daemon makes itself: the transport's, and the detached daemon's move of its output into its
 * log. Buffers pass as native addresses (direct buffers, jnr Memory), so no call copies; not FileChannel, which
 * closes the fd when a thread blocked in it is interrupted. Public only because jnr-ffi implements it from another
 * class loader.
 */
public interface FuseLibC {
    int O_WRONLY = 1;
    int O_RDWR = 2;
    int O_CREAT = 0x40;
    int O_TRUNC = 0x200;
    int O_CLOEXEC = 0x80000;
    int F_DUPFD_CLOEXEC = 1030;
    int AF_UNIX = 1;
    int SOCK_STREAM = 1;
    int SOL_SOCKET = 1;
    int SCM_RIGHTS = 1;
    int MNT_DETACH = 2;

    @SaveError
    int open(String path, int flags, int mode);

    @SaveError
    int close(int fd);

    @SaveError
    int fcntl(int fd, int cmd, int arg);

    @SaveError
    int dup2(int oldFd, int newFd);

    @SaveError
    long write(int fd, byte[] buf, long count);

    @SaveError
    long read(int fd, long buf, long count);

    @SaveError
    long writev(int fd, long iov, int iovcnt);

    @SaveError
    int ioctl(int fd, long request, long argAddress);

    @SaveError
    int syncfs(int fd);

    @SaveError
    int mount(String source, String target, String type, long flags, String data);

    @SaveError
    int umount2(String target, int flags);

    @SaveError
    int socketpair(int domain, int type, int protocol, int[] sv);

    @SaveError
    long recvmsg(int fd, long msghdr, int flags);

    @SaveError
    int posix_spawnp(long pidOut, String file, long fileActions, long attr, long argv, long envp);

    @SaveError
    int waitpid(int pid, long status, int options);

    @SaveError
    int prctl(int option, long arg2, long arg3, long arg4, long arg5);

    @IgnoreError
    int getuid();

    @IgnoreError
    int getgid();

    @IgnoreError
    String strerror(int errno);

    /** struct timespec as two longs: seconds, nanoseconds. */
    @IgnoreError
    int clock_gettime(int clockId, @Out long[] timespec);

    static FuseLibC get() {
        return Holder.LIBC;
    }

    /** Loaded on first use. */
    final class Holder {
        static final FuseLibC LIBC = LibcLoader.load(FuseLibC.class);

        private Holder() {
        }
    }
}
