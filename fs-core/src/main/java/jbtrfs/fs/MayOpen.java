package jbtrfs.fs;

import jbtrfs.Errno;
import jbtrfs.FsException;

/**
 * The kernel's checks of an open(2) of an existing inode (fs/namei.c do_open, may_open and inode_permission, in
 * their order), here so that every transport gives them: write access to a directory is EISDIR, to a regular file
 * of a read-only filesystem EROFS, to an immutable inode EPERM, and to an append-only one EPERM unless it appends
 * and does not truncate. Write access is O_WRONLY, O_RDWR or O_TRUNC.
 */
final class MayOpen {
    private MayOpen() {
    }

    /** Throws the errno the kernel gives for opening {@code id} (whose stat is {@code st}) with {@code flags}. */
    static void check(FsOperations ops, InodeId id, Stat st, int flags) throws FsException {
        int access = flags & FsOperations.O_ACCMODE;
        boolean truncate = (flags & FsOperations.O_TRUNC) != 0;
        if (access == FsOperations.O_RDONLY && !truncate) return;
        if (st.isDirectory()) throw new FsException(Errno.EISDIR, "inode " + id + " is a directory");
        if (ops.readOnly() && (st.isRegular() || st.isSymlink())) {
            throw new FsException(Errno.EROFS, "the filesystem is mounted read-only");
        }
        long attrs = ops.fileFlags(id);
        if ((attrs & InodeFlags.FS_IMMUTABLE_FL) != 0) {
            throw new FsException(Errno.EPERM, "inode " + id + " is immutable");
        }
        boolean appends = (flags & FsOperations.O_APPEND) != 0;
        if ((attrs & InodeFlags.FS_APPEND_FL) != 0 && ((access != FsOperations.O_RDONLY && !appends) || truncate)) {
            throw new FsException(Errno.EPERM, "inode " + id + " is append-only");
        }
    }
}
