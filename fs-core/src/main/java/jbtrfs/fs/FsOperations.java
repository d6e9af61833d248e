package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.Key;
import jbtrfs.format.SuperBlock;
import jbtrfs.format.Timespec;

/**
 * The operations the FUSE adapter calls, by inode. Safe to call from many threads at once.
 * Errors are {@link FsException}s, each carrying the errno a transport answers with. The changing operations fail
 * with {@link Errno#EROFS} on a read-only filesystem (their default here).
 */
public interface FsOperations {

    /** rename(2) flag: fail with EEXIST when the target exists. */
    int RENAME_NOREPLACE = 1;
    /** rename(2) flag: swap the two names atomically. */
    int RENAME_EXCHANGE = 2;
    /** setxattr(2) flag: fail with EEXIST when the attribute exists. */
    int XATTR_CREATE = 1;
    /** setxattr(2) flag: fail with ENODATA when the attribute does not exist. */
    int XATTR_REPLACE = 2;
    /**
     * setxattr of system.posix_acl_access by a caller outside the file's group without CAP_FSETID (FUSE's
     * FUSE_SETXATTR_ACL_KILL_SGID): set-group-ID goes, as posix_acl_update_mode drops it.
     */
    int XATTR_KILL_SGID = 1 << 16;
    /** fallocate(2) mode bit: do not change the file size. */
    int FALLOC_FL_KEEP_SIZE = 1;
    /** fallocate(2) mode bit: deallocate the range (always with KEEP_SIZE). */
    int FALLOC_FL_PUNCH_HOLE = 2;
    /** fallocate(2) mode bit: the range reads as zeros afterwards, its whole blocks preallocated. */
    int FALLOC_FL_ZERO_RANGE = 0x10;
    /** open(2) flags (asm-generic/fcntl.h): the access mode bits and its three values. */
    int O_ACCMODE = 03;
    int O_RDONLY = 0;
    int O_WRONLY = 01;
    int O_RDWR = 02;
    /** open(2) flag: empty a regular file. */
    int O_TRUNC = 01000;
    /** open(2) flag: every write appends. */
    int O_APPEND = 02000;

    /** The top-level subvolume's root directory (what the mountpoint shows). */
    InodeId root();

    /** The entry {@code name} in directory {@code dir}; a subvolume entry resolves to that subvolume's root dir. */
    InodeId lookup(InodeId dir, String name) throws FsException;

    /**
     * As {@link #lookup}, but null where {@code dir} has no such name: every create asks first for the name it is
     * about to make, and a miss is an answer there, not an error to throw and catch.
     */
    default InodeId lookupIfExists(InodeId dir, String name) throws FsException {
        try {
            return lookup(dir, name);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            return null;
        }
    }

    /**
     * The directory holding directory {@code dir}, as btrfs_get_parent finds it for a file handle: its inode ref, or
     * for a subvolume's root the directory its ROOT_BACKREF names; the top level's root holds itself. ENOENT for a
     * subvolume no directory links.
     */
    default InodeId parentDirectory(InodeId dir) throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "no parent lookup");
    }

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

    /** The value of one extended attribute; {@link Errno#ENODATA} when it is not set. */
    byte[] getXattr(InodeId id, String name) throws FsException;

    StatFs statfs() throws FsException;

    /**
     * open(2) of an existing inode with {@code flags}: the errno the kernel gives, in fs/namei.c's order (EISDIR,
     * EROFS, EPERM for an immutable or append-only file), and O_TRUNC empties a regular file as the kernel's does.
     */
    default void open(InodeId id, int flags) throws FsException {
        Stat st = stat(id);
        MayOpen.check(this, id, st, flags);
        if ((flags & O_TRUNC) != 0 && st.isRegular() && st.size() != 0) truncate(id, 0);
    }

    /** opendir: ENOTDIR unless {@code id} is a directory. */
    default void opendir(InodeId id) throws FsException {
        if (!stat(id).isDirectory()) throw new FsException(Errno.ENOTDIR, "inode " + id + " is not a directory");
    }

    // ---- changes (read-write mounts) ----

    /** Whether changes are refused. */
    default boolean readOnly() { return true; }

    /**
     * Creates a regular file, fifo, socket or device node {@code name} in {@code dir} ({@code mode} carries the
     * type bits, umask already applied; {@code rdev} in the new_encode_dev form of {@link Stat#rdev()}), owned by
     * {@code uid} and {@code gid} (a set-group-ID directory passes its group on, as the kernel does).
     */
    default InodeId mknod(InodeId dir, String name, int mode, long rdev, int uid, int gid) throws FsException {
        throw readOnlyError();
    }

    /** Creates directory {@code name} in {@code dir} ({@code mode} without type bits, umask applied). */
    default InodeId mkdir(InodeId dir, String name, int mode, int uid, int gid) throws FsException {
        throw readOnlyError();
    }

    /**
     * {@link #mknod} with the creator's {@code umask} not yet applied: it applies only where {@code dir} has no
     * default ACL; with one the new inode inherits it instead (posix_acl_create), as on the kernel's Btrfs.
     */
    default InodeId mknod(InodeId dir, String name, int mode, long rdev, int uid, int gid, int umask)
            throws FsException {
        return mknod(dir, name, mode & ~(umask & 0777), rdev, uid, gid);
    }

    /** {@link #mkdir} with the creator's {@code umask} not yet applied, as {@link #mknod} with one. */
    default InodeId mkdir(InodeId dir, String name, int mode, int uid, int gid, int umask) throws FsException {
        return mkdir(dir, name, mode & ~(umask & 0777), uid, gid);
    }

    /** {@link #tmpfile} with the creator's {@code umask} not yet applied, as {@link #mknod} with one. */
    default InodeId tmpfile(InodeId dir, int mode, int uid, int gid, int umask) throws FsException {
        return tmpfile(dir, mode & ~(umask & 0777), uid, gid);
    }

    /** Creates symbolic link {@code name} in {@code dir} pointing at {@code target}. */
    default InodeId symlink(InodeId dir, String name, String target, int uid, int gid) throws FsException {
        throw readOnlyError();
    }

    /** Adds the name {@code name} in {@code dir} for the existing non-directory {@code target}. */
    default void link(InodeId target, InodeId dir, String name) throws FsException {
        throw readOnlyError();
    }

    /** Removes the non-directory entry {@code name} from {@code dir}. */
    default void unlink(InodeId dir, String name) throws FsException {
        throw readOnlyError();
    }

    /** Removes the empty directory {@code name} from {@code dir}. */
    default void rmdir(InodeId dir, String name) throws FsException {
        throw readOnlyError();
    }

    /** rename(2) with {@link #RENAME_NOREPLACE} / {@link #RENAME_EXCHANGE} flags. */
    default void rename(InodeId fromDir, String fromName, InodeId toDir, String toName, int flags)
            throws FsException {
        throw readOnlyError();
    }

    /** Sets the permission bits (07777) and updates ctime. */
    default void chmod(InodeId id, int mode) throws FsException {
        throw readOnlyError();
    }

    /** Sets owner and group (-1 leaves one unchanged) and updates ctime. */
    default void chown(InodeId id, int uid, int gid) throws FsException {
        chown(id, uid, gid, 0, null);
    }

    /**
     * {@link #chown(InodeId, int, int)} clearing the mode bits {@code clearMode} in the same change (the set-ID
     * bits a chown drops), with ctime {@code ctime} (null: the time of the change). With both -1 it is allowed on
     * an immutable or append-only inode, as notify_change checks those flags only for a new owner.
     */
    default void chown(InodeId id, int uid, int gid, int clearMode, Timespec ctime) throws FsException {
        throw readOnlyError();
    }

    /** Sets atime and mtime (null leaves one unchanged, {@link Timespec#NOW} is the time of the change), ctime. */
    default void utimens(InodeId id, Timespec atime, Timespec mtime) throws FsException {
        throw readOnlyError();
    }

    /**
     * SETATTR's times from a kernel that keeps them itself (FUSE with writeback caching, which sends its own clock):
     * atime and mtime as {@link #utimens} takes them, ctime set to {@code ctime} (null: the time of the change).
     * {@code touch}: the explicit times stand for UTIME_NOW, which an append-only inode allows, as utimens allows
     * {@link Timespec#NOW}. This default ignores ctime.
     */
    default void setTimes(InodeId id, Timespec atime, Timespec mtime, Timespec ctime, boolean touch)
            throws FsException {
        utimens(id, touch && atime != null ? Timespec.NOW : atime, touch && mtime != null ? Timespec.NOW : mtime);
    }

    /** Changes a regular file's size, freeing or zero-extending; updates mtime and ctime. */
    default void truncate(InodeId file, long size) throws FsException {
        throw readOnlyError();
    }

    /** Writes all of {@code src} at {@code offset}; returns the bytes written. */
    default int write(InodeId file, long offset, ByteBuffer src) throws FsException {
        throw readOnlyError();
    }

    /**
     * {@link #write} leaving mtime and ctime as they were: FUSE with writeback caching stamps them at write(2) and
     * sends them in a SETATTR of its own, which may reach us before the cached pages do. This default stamps them.
     */
    default int writeBack(InodeId file, long offset, ByteBuffer src) throws FsException {
        return write(file, offset, src);
    }

    /**
     * fallocate(2) with mode 0, {@link #FALLOC_FL_KEEP_SIZE}, {@link #FALLOC_FL_PUNCH_HOLE} and
     * {@link #FALLOC_FL_ZERO_RANGE}.
     */
    default void fallocate(InodeId file, int mode, long offset, long length) throws FsException {
        throw readOnlyError();
    }

    /** setxattr(2) with {@link #XATTR_CREATE} / {@link #XATTR_REPLACE} flags. */
    default void setXattr(InodeId id, String name, byte[] value, int flags) throws FsException {
        throw readOnlyError();
    }

    /** removexattr(2); {@link Errno#ENODATA} when it is not set. */
    default void removeXattr(InodeId id, String name) throws FsException {
        throw readOnlyError();
    }

    /** The inode's attributes as FS_IOC_GETFLAGS reports them ({@link InodeFlags}' FS_*_FL bits). */
    default long fileFlags(InodeId id) throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "inode flags");
    }

    /** FS_IOC_SETFLAGS (chattr): sets the attributes {@link InodeFlags} lets change, updates ctime. */
    default void setFileFlags(InodeId id, long fsFlags) throws FsException {
        throw readOnlyError();
    }

    /**
     * lseek(2)'s SEEK_DATA ({@code hole} false) or SEEK_HOLE ({@code hole} true) from {@code offset}, answered from
     * the file's extents as the kernel's Btrfs answers (btrfs_find_delalloc_in_range aside). ENXIO
     * ({@link Errno#ENXIO}) at or past EOF, and for SEEK_DATA when only holes follow.
     */
    default long seekData(InodeId file, long offset, boolean hole) throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "SEEK_DATA and SEEK_HOLE");
    }

    /**
     * O_TMPFILE: a new regular file with no name (nlink 0, an orphan item) in {@code dir}'s subvolume; {@link #link}
     * names it, {@link #evict} frees it unnamed.
     */
    default InodeId tmpfile(InodeId dir, int mode, int uid, int gid) throws FsException {
        throw readOnlyError();
    }

    /**
     * The transport holds no more references to {@code id} (the kernel forgot it): an inode whose last name went
     * while it was in use (nlink 0, orphan item) is freed now. A transport that never evicts does not call it.
     */
    default void evict(InodeId id) throws FsException {
    }

    /** Clears S_ISUID, and S_ISGID where group execute is set (should_remove_suid), as a write by a user must. */
    default void killSuidSgid(InodeId id) throws FsException {
        throw readOnlyError();
    }

    /**
     * {@link #killSuidSgid(InodeId)} for a caller in groups {@code callerGroups} (its fsgid and supplementary groups):
     * S_ISGID without group execute goes too when the file's group is not one of them, as the kernel's
     * setattr_should_drop_sgid rules for a writer outside the file's group.
     */
    default void killSuidSgid(InodeId id, int[] callerGroups) throws FsException {
        throw readOnlyError();
    }

    /**
     * copy_file_range(2) of {@code length} bytes from {@code src} at {@code srcOffset} to {@code dst} at
     * {@code dstOffset} ({@code flags} must be 0); returns the bytes copied, fewer than asked at the source's EOF
     * and where the kernel's Btrfs shortens a reflink to whole sectors. Shares the extents where the kernel's Btrfs
     * would reflink, copies the bytes otherwise.
     */
    default long copyFileRange(InodeId src, long srcOffset, InodeId dst, long dstOffset, long length, int flags)
            throws FsException {
        throw readOnlyError();
    }

    /**
     * FS_IOC_SETFLAGS asked by user {@code uid}: changing immutable or append-only takes CAP_LINUX_IMMUTABLE
     * (here: root), else EPERM, as the kernel's fileattr_set_prepare.
     */
    default void setFileFlags(InodeId id, long fsFlags, int uid) throws FsException {
        long guarded = InodeFlags.FS_IMMUTABLE_FL | InodeFlags.FS_APPEND_FL;
        if (((fsFlags ^ fileFlags(id)) & guarded) != 0 && uid != 0) {
            throw new FsException(Errno.EPERM, "changing immutable or append-only of " + id + " takes root");
        }
        setFileFlags(id, fsFlags);
    }

    // ---- subvolumes (issue 18: the btrfs ioctls). Each checks the kernel's permission rules (fs/btrfs/ioctl.c)
    // against the caller and fails with the kernel's errno; names are checked by the caller (not empty, not "." or
    // "..", no '/', at most 255 bytes). A change is in the running transaction when it returns (sync() commits). ----

    /**
     * BTRFS_IOC_SUBVOL_CREATE: a new empty subvolume {@code name} in {@code parentDir} (btrfs_create_subvol_root),
     * its root directory owned by the caller; returns its tree id. EEXIST when the name exists, EACCES without write
     * and search permission on the directory (btrfs_may_create).
     */
    default long createSubvolume(InodeId parentDir, String name, Caller caller) throws FsException {
        throw readOnlyError();
    }

    /**
     * BTRFS_IOC_SNAP_CREATE_V2: a snapshot of subvolume {@code sourceSubvol} named {@code name} in
     * {@code parentDir}, read-only when asked (create_snapshot); returns its tree id. EPERM when the caller neither
     * owns the source's root directory nor is root (inode_owner_or_capable), EEXIST and EACCES as for
     * {@link #createSubvolume}.
     */
    default long snapshot(long sourceSubvol, InodeId parentDir, String name, boolean readOnly, Caller caller)
            throws FsException {
        throw readOnlyError();
    }

    /**
     * BTRFS_IOC_SNAP_DESTROY(_V2): removes the subvolume entry {@code name} of {@code parentDir} at once and drops
     * its tree in the background (orphan item, drop_progress). EPERM for a caller that is not root (no
     * user_subvol_rm_allowed), for the default subvolume and for one with a send in progress; EINVAL when the entry
     * is not a subvolume; ENOTEMPTY when subvolumes are nested inside it.
     */
    default void deleteSubvolume(InodeId parentDir, String name, Caller caller) throws FsException {
        throw readOnlyError();
    }

    /** BTRFS_IOC_SUBVOL_GETFLAGS: whether subvolume {@code subvol} is read-only (BTRFS_SUBVOL_RDONLY). */
    default boolean subvolumeReadOnly(long subvol) throws FsException {
        return subvolumeInfo(subvol).readOnly();
    }

    /**
     * BTRFS_IOC_SUBVOL_SETFLAGS: sets or clears BTRFS_SUBVOL_RDONLY. EPERM unless the caller owns the subvolume's
     * root directory or is root; clearing it on a received subvolume (received_uuid set) clears received_uuid and
     * stransid as the kernel does.
     */
    default void setSubvolumeReadOnly(long subvol, boolean readOnly, Caller caller) throws FsException {
        throw readOnlyError();
    }

    /** The subvolume a plain kernel mount shows: the root tree's "default" dir item, else 5. */
    default long defaultSubvolume() throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "default subvolume");
    }

    /** BTRFS_IOC_DEFAULT_SUBVOL: EPERM unless root; ENOENT when there is no such subvolume (0 means 5). */
    default void setDefaultSubvolume(long subvol, Caller caller) throws FsException {
        throw readOnlyError();
    }

    /** BTRFS_IOC_GET_SUBVOL_INFO of subvolume {@code subvol}; ENOENT when it does not exist. */
    default SubvolumeInfo subvolumeInfo(long subvol) throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "subvolume info");
    }

    /**
     * BTRFS_IOC_TREE_SEARCH: the items of tree {@code treeId} (any tree: root, extent, chunk, dev, csum, a
     * subvolume) whose keys lie between {@code min} and {@code max} in key order, from leaves whose generation is
     * within [{@code minTransid}, {@code maxTransid}], in key order, as the running transaction sees them: at most
     * {@code maxItems} of them and no more than {@code maxBytes} counting a {@link TreeSearchItem#HEADER_SIZE}
     * header each. ENOENT when there is no such tree. Root only is the ioctl's rule, not this method's.
     */
    default List<TreeSearchItem> treeSearch(long treeId, Key min, Key max, long minTransid, long maxTransid,
                                            int maxItems, int maxBytes) throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "tree search");
    }

    /**
     * BTRFS_IOC_SPACE_INFO: the block groups summed by type and profile (data, system, metadata, mixed, in that
     * order, each by profile), then the global reserve's line, as the kernel lists them now.
     */
    default List<SpaceInfo> spaceInfo() throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "space info");
    }

    /**
     * Every member of the filesystem (BTRFS_IOC_DEV_INFO), by devid, bytes_used as allocated now; path null for a
     * member missing from a degraded mount, "" for the one device of a one-device filesystem.
     */
    default List<FsInfo.Device> devices() throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "devices");
    }

    /** The superblock of the last commit (BTRFS_IOC_FS_INFO and DEV_INFO's fixed figures). */
    default SuperBlock superBlock() throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "superblock");
    }

    /** Makes the inode's changes durable before returning (fsync/fdatasync: a commit). */
    default void fsync(InodeId id, boolean dataOnly) throws FsException {
    }

    /** The mount's scrub (BTRFS_IOC_SCRUB and its progress and cancel); EOPNOTSUPP where there is none. */
    default Scrubber scrubber() throws FsException {
        throw new FsException(Errno.EOPNOTSUPP, "scrub");
    }

    /**
     * FITRIM: commits, then gives the free space back to what holds the device (holes in an image file) for the
     * block groups in logical [start, start+length) with pieces of at least {@code minlen} bytes, and all the
     * unallocated device space; the bytes given back. EOPNOTSUPP where the device cannot discard.
     */
    default long trim(long start, long length, long minlen) throws FsException {
        throw readOnlyError();
    }

    /** Commits everything and returns when it is on disk (sync(2), BTRFS_IOC_SYNC, unmount). */
    default void sync() throws FsException {
    }

    private static FsException readOnlyError() {
        return new FsException(Errno.EROFS, "the filesystem is mounted read-only");
    }
}
