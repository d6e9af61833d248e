package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.util.List;

import jbtrfs.FsException;

/**
 * The operations the FUSE adapter calls, by inode. Safe to call from many threads at once.
 * Errors are {@link FsException} subclasses that map one-to-one to errnos.
 */
public interface FsOperations {

    /** The top-level subvolume's root directory (what the mountpoint shows). */
    InodeId root();

    /** The entry {@code name} in directory {@code dir}; a subvolume entry resolves to that subvolume's root dir. */
    InodeId lookup(InodeId dir, String name) throws FsException;

    /** Resolves an absolute path ("/", "/a/b") from {@link #root()}. */
    InodeId resolve(String path) throws FsException;

    Stat stat(InodeId id) throws FsException;

    /**
     * Entries of {@code dir} after readdir offset {@code offset} (0 starts at the first entry; "." and ".." are the
     * adapter's), at most {@code max} of them, in the order the kernel lists them.
     */
    List<DirEntry> readdir(InodeId dir, long offset, int max) throws FsException;

    /** The target of a symbolic link. */
    String readlink(InodeId id) throws FsException;

    /**
     * Reads file data at {@code offset} into {@code dst} up to its remaining space; returns the bytes read,
     * fewer only at end of file (0 at or past it).
     */
    int read(InodeId file, long offset, ByteBuffer dst) throws FsException;

    /** Names of the inode's extended attributes, in the order listxattr(2) gives them on the kernel. */
    List<String> listXattr(InodeId id) throws FsException;

    /** The value of one extended attribute; {@link jbtrfs.NoDataException} when it is not set. */
    byte[] getXattr(InodeId id, String name) throws FsException;

    StatFs statfs() throws FsException;
}
