package jbtrfs.fuse;

import jnr.ffi.annotations.SaveError;

/** The libc calls that move a detached daemon's output into its log. Public only because jnr-ffi implements it. */
public interface StdioLibC {
    int O_WRONLY = 1;
    int O_CREAT = 0x40;
    int O_TRUNC = 0x200;
    int O_CLOEXEC = 0x80000;
    int F_DUPFD_CLOEXEC = 1030;

    @SaveError
    int open(String path, int flags, int mode);

    @SaveError
    int fcntl(int fd, int cmd, int arg);

    @SaveError
    int dup2(int oldFd, int newFd);

    @SaveError
    long write(int fd, byte[] buf, long count);

    @SaveError
    int close(int fd);
}
