package jbtrfs.fs;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.InodeItem;

/**
 * The inode attributes lsattr and chattr see (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS, the FS_*_FL bits of
 * include/uapi/linux/fs.h) and the btrfs_inode_item flags behind them, mapped and changed as
 * btrfs_fileattr_get/btrfs_fileattr_set do.
 */
public final class InodeFlags {
    public static final long FS_COMPR_FL = 0x4;
    public static final long FS_SYNC_FL = 0x8;
    public static final long FS_IMMUTABLE_FL = 0x10;
    public static final long FS_APPEND_FL = 0x20;
    public static final long FS_NODUMP_FL = 0x40;
    public static final long FS_NOATIME_FL = 0x80;
    public static final long FS_NOCOMP_FL = 0x400;
    public static final long FS_DIRSYNC_FL = 0x10000;
    public static final long FS_NOCOW_FL = 0x800000;

    static final long SYNC = 1L << 5;
    static final long IMMUTABLE = 1L << 6;
    static final long APPEND = 1L << 7;
    static final long NODUMP = 1L << 8;
    static final long NOATIME = 1L << 9;
    static final long DIRSYNC = 1L << 10;

    /** Pairs of (FS_*_FL, BTRFS_INODE_*) that map one to one. */
    private static final long[][] SIMPLE = {{FS_SYNC_FL, SYNC}, {FS_IMMUTABLE_FL, IMMUTABLE},
            {FS_APPEND_FL, APPEND}, {FS_NODUMP_FL, NODUMP}, {FS_NOATIME_FL, NOATIME}, {FS_DIRSYNC_FL, DIRSYNC},
            {FS_NOCOW_FL, InodeItem.FLAG_NODATACOW}, {FS_NOCOMP_FL, InodeItem.FLAG_NOCOMPRESS},
            {FS_COMPR_FL, InodeItem.FLAG_COMPRESS}};

    /**
     * What chattr may set here. Immutable and append-only are enforced as the VFS does (writes, truncate, attributes,
     * xattrs, links, unlinks, renames); who may change them (CAP_LINUX_IMMUTABLE) is the caller's to check.
     */
    static final long SETTABLE = FS_SYNC_FL | FS_NODUMP_FL | FS_NOATIME_FL | FS_DIRSYNC_FL | FS_NOCOW_FL
            | FS_NOCOMP_FL | FS_COMPR_FL | FS_IMMUTABLE_FL | FS_APPEND_FL;

    private InodeFlags() {
    }

    /** The FS_*_FL bits of inode flags {@code btrfsFlags} (≈ btrfs_inode_flags_to_fsflags). */
    public static long toFsFlags(long btrfsFlags) {
        long out = 0;
        for (long[] p : SIMPLE) if ((btrfsFlags & p[1]) != 0) out |= p[0];
        return out;
    }

    /** Pairs of (FS_*_FL, FS_XFLAG_*): the flags struct fsxattr carries too (FS_XFLAG_COMMON, as btrfs has them). */
    private static final long[][] XFLAGS = {{FS_SYNC_FL, 0x20}, {FS_IMMUTABLE_FL, 0x8}, {FS_APPEND_FL, 0x10},
            {FS_NODUMP_FL, 0x80}, {FS_NOATIME_FL, 0x40}};

    /** FS_XFLAG_* for struct fsxattr from FS_*_FL (≈ fileattr_fill_flags). */
    public static long toXflags(long fsFlags) {
        long x = 0;
        for (long[] p : XFLAGS) if ((fsFlags & p[0]) != 0) x |= p[1];
        return x;
    }

    /**
     * The FS_*_FL bits FS_IOC_FSSETXATTR asks for, on an inode whose bits are {@code oldFsFlags}: the common flags
     * from {@code xflags}, the rest kept (≈ fileattr_fill_xflags, vfs_fileattr_set). Anything else struct fsxattr
     * can ask (other xflags, an extent size hint, a project id) btrfs does not have: EOPNOTSUPP, as
     * btrfs_fileattr_set answers.
     */
    public static long fromXflags(long oldFsFlags, long xflags, long extsize, long projid, long cowextsize)
            throws FsException {
        long known = 0;
        long common = 0;
        long fs = 0;
        for (long[] p : XFLAGS) {
            known |= p[1];
            common |= p[0];
            if ((xflags & p[1]) != 0) fs |= p[0];
        }
        if ((xflags & ~known) != 0 || extsize != 0 || projid != 0 || cowextsize != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "fsxattr xflags 0x" + Long.toHexString(xflags) + ", extsize " + extsize
                    + ", projid " + projid + ", cowextsize " + cowextsize);
        }
        return (oldFsFlags & ~common) | fs;
    }

    /**
     * The inode flags after chattr asks for {@code fsFlags} on an inode with {@code old} flags, of type
     * {@code mode} and size {@code size} (≈ btrfs_check_fsflags and btrfs_fileattr_set): nocow changes a regular
     * file only while it is empty (its checksums go with it), compression flags exclude each other and nocow.
     */
    static long apply(long old, long fsFlags, int mode, long size) throws FsException {
        long changed = fsFlags ^ toFsFlags(old);
        if ((changed & ~SETTABLE) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "inode flags 0x" + Long.toHexString(changed & ~SETTABLE));
        }
        if ((fsFlags & FS_NOCOMP_FL) != 0 && (fsFlags & FS_COMPR_FL) != 0) {
            throw new FsException(Errno.EINVAL, "compress and nocompress together");
        }
        if ((fsFlags & FS_NOCOW_FL) != 0 && (fsFlags & (FS_COMPR_FL | FS_NOCOMP_FL)) != 0) {
            throw new FsException(Errno.EINVAL, "nocow and compression flags together");
        }
        long flags = old;
        for (long[] p : SIMPLE) {
            if (p[1] == InodeItem.FLAG_NODATACOW || p[1] == InodeItem.FLAG_NOCOMPRESS
                    || p[1] == InodeItem.FLAG_COMPRESS) {
                continue;
            }
            flags = (fsFlags & p[0]) != 0 ? flags | p[1] : flags & ~p[1];
        }
        boolean regular = (mode & Stat.S_IFMT) == Stat.S_IFREG;
        long nocow = regular ? InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM : InodeItem.FLAG_NODATACOW;
        if (!regular || size == 0) {
            // a file with data keeps its copy-on-write state: the flag would not tell the truth about its extents
            flags = (fsFlags & FS_NOCOW_FL) != 0 ? flags | nocow : flags & ~nocow;
        }
        flags &= ~(InodeItem.FLAG_COMPRESS | InodeItem.FLAG_NOCOMPRESS);
        if ((fsFlags & FS_NOCOMP_FL) != 0) flags |= InodeItem.FLAG_NOCOMPRESS;
        else if ((fsFlags & FS_COMPR_FL) != 0) flags |= InodeItem.FLAG_COMPRESS;
        return flags;
    }

    /**
     * The flags a new inode takes from its directory (≈ btrfs_inherit_iflags): NOCOMPRESS or else COMPRESS, and
     * NODATACOW (chattr +C), which makes a regular file NODATASUM too.
     */
    static long inherited(long dirFlags, int mode) {
        long flags = 0;
        if ((dirFlags & InodeItem.FLAG_NOCOMPRESS) != 0) flags |= InodeItem.FLAG_NOCOMPRESS;
        else if ((dirFlags & InodeItem.FLAG_COMPRESS) != 0) flags |= InodeItem.FLAG_COMPRESS;
        if ((dirFlags & InodeItem.FLAG_NODATACOW) != 0) {
            flags |= InodeItem.FLAG_NODATACOW;
            if ((mode & Stat.S_IFMT) == Stat.S_IFREG) flags |= InodeItem.FLAG_NODATASUM;
        }
        return flags;
    }
}
