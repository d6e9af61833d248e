package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.Timespec;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeFlags;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;
import jbtrfs.fs.StatFs;
import jbtrfs.fuse.FuseMetrics;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * An inode's attributes and data: GETATTR, STATX, SETATTR, READLINK, OPEN, READ, WRITE, RELEASE, FSYNC, FALLOCATE,
 * LSEEK, ACCESS, STATFS. Requests name the inode by node id: the handles only count what is open.
 */
final class FileRequests {
    /** fuse_setattr_in.valid bits. */
    static final int FATTR_MODE = 1;
    static final int FATTR_UID = 1 << 1;
    static final int FATTR_GID = 1 << 2;
    static final int FATTR_SIZE = 1 << 3;
    static final int FATTR_ATIME = 1 << 4;
    static final int FATTR_MTIME = 1 << 5;
    static final int FATTR_ATIME_NOW = 1 << 7;
    static final int FATTR_MTIME_NOW = 1 << 8;
    static final int FATTR_CTIME = 1 << 10;
    static final int FATTR_KILL_SUIDGID = 1 << 11;
    /** fuse_open_in.open_flags and fuse_write_in.write_flags: clear suid/sgid as a write by a user must. */
    static final int FUSE_OPEN_KILL_SUIDGID = 1;
    static final int FUSE_WRITE_KILL_SUIDGID = 1 << 2;
    /** fuse_write_in.write_flags: the kernel writes back its page cache (writeback caching). */
    static final int FUSE_WRITE_CACHE = 1;
    static final int FUSE_FSYNC_FDATASYNC = 1;
    /**
     * fuse_open_out.open_flags: keep the page cache across opens. Every change of file data passes through the kernel
     * (what changes it otherwise, a snapshot say, invalidates through NodeHandler.invalidateInode), so what it
     * caches stays true; without it each open would drop (and first write back) the file's pages.
     */
    static final int FOPEN_KEEP_CACHE = 1 << 1;
    static final int O_ACCMODE = 3;
    static final int O_TRUNC = 01000;
    static final int O_APPEND = 02000;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;

    private final Nodes nodes;
    private final FsOperations ops;
    private final FuseMetrics metrics;

    FileRequests(Nodes nodes, FuseMetrics metrics) {
        this.nodes = nodes;
        this.ops = nodes.ops;
        this.metrics = metrics;
    }

    /** fuse_getattr_in is not needed: the node id names the inode, open or not. */
    void getattr(FuseRequest r) throws FsException {
        replyAttr(r, nodes.inode(r));
    }

    /** STATX: btime and the attributes chattr set, beside what GETATTR gives. */
    void statx(FuseRequest r) throws FsException {
        InodeId id = nodes.inode(r);
        Stat st = ops.stat(id);
        ByteBuffer b = r.replyBuffer(FuseAttr.STATX_OUT_SIZE);
        FuseAttr.putStatxOut(b, st, nodes.ids.ino(id), nodes.blksize, nodes.options.attrTimeout());
        r.reply(b);
    }

    /**
     * fuse_setattr_in: each field its fs-core call, in chmod, chown, truncate order, then the suid/sgid clearing the
     * kernel asks for (FATTR_KILL_SUIDGID: a chown, or a truncate by a user), then the times. A SETATTR that sets
     * none of them is a chown(-1, -1) (notify_change of ATTR_CTIME and the kill bits, which fuse_setattr drops under
     * HANDLE_KILLPRIV_V2 and sends no FATTR_KILL_SUIDGID for without a new owner): it clears what a chown clears and
     * stamps ctime (the kernel's, if it sent one), as btrfs_setattr does, on an immutable inode too. With writeback caching
     * the kernel keeps mtime and ctime of regular files itself and sends them (FATTR_CTIME, its clock in place of
     * FATTR_MTIME_NOW): they are stored as sent, so that what it shows and what the image holds agree; a NOW beside
     * them (a touch) is the kernel's ctime, and allowed on an append-only inode as a touch is.
     */
    void setattr(FuseRequest r) throws FsException {
        InArgs in = r.in();
        int valid = in.u32();
        in.skip(4 + 8);
        long size = in.u64();
        in.skip(8);
        long atime = in.u64();
        long mtime = in.u64();
        long ctime = in.u64();
        int atimensec = in.u32();
        int mtimensec = in.u32();
        int ctimensec = in.u32();
        int mode = in.u32();
        in.skip(4);
        int uid = in.u32();
        int gid = in.u32();
        InodeId id = nodes.inode(r);
        if ((valid & FATTR_MODE) != 0) ops.chmod(id, mode & 07777);
        boolean sameOwner = (valid & (FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME
                | FATTR_KILL_SUIDGID)) == 0;
        if ((valid & (FATTR_UID | FATTR_GID)) != 0 || sameOwner) {
            int clear = sameOwner ? nodes.clearedBySameOwnerChown(r, id, (valid & FATTR_CTIME) != 0)
                    : (valid & FATTR_KILL_SUIDGID) != 0 ? nodes.clearedByChown(id, false) : 0;
            ops.chown(id, (valid & FATTR_UID) != 0 ? uid : -1, (valid & FATTR_GID) != 0 ? gid : -1, clear,
                    sameOwner && (valid & FATTR_CTIME) != 0 ? new Timespec(ctime, ctimensec) : null);
        }
        if ((valid & FATTR_SIZE) != 0) ops.truncate(id, size);
        if ((valid & FATTR_KILL_SUIDGID) != 0 && (valid & (FATTR_UID | FATTR_GID)) == 0) nodes.killSuidSgid(r, id);
        if ((valid & FATTR_CTIME) != 0 && !sameOwner) {
            Timespec c = new Timespec(ctime, ctimensec);
            ops.setTimes(id, kernelTime(valid, FATTR_ATIME, FATTR_ATIME_NOW, atime, atimensec, c),
                    kernelTime(valid, FATTR_MTIME, FATTR_MTIME_NOW, mtime, mtimensec, c), c,
                    (valid & (FATTR_ATIME_NOW | FATTR_MTIME_NOW)) != 0);
        } else if ((valid & (FATTR_ATIME | FATTR_MTIME)) != 0) {
            ops.utimens(id, time(valid, FATTR_ATIME, FATTR_ATIME_NOW, atime, atimensec),
                    time(valid, FATTR_MTIME, FATTR_MTIME_NOW, mtime, mtimensec));
        }
        replyAttr(r, id);
    }

    /** A time SETATTR sets beside the kernel's ctime: null to leave it, the ctime for NOW. */
    private static Timespec kernelTime(int valid, int set, int now, long sec, int nsec, Timespec ctime) {
        if ((valid & set) == 0) return null;
        return (valid & now) != 0 ? ctime : new Timespec(sec, nsec);
    }

    /** A time SETATTR sets: null to leave it, {@link Timespec#NOW} for the time of the change. */
    private static Timespec time(int valid, int set, int now, long sec, int nsec) {
        if ((valid & set) == 0) return null;
        if ((valid & now) != 0) return Timespec.NOW;
        return new Timespec(sec, nsec);
    }

    private void replyAttr(FuseRequest r, InodeId id) throws FsException {
        Stat st = ops.stat(id);
        ByteBuffer b = r.replyBuffer(FuseAttr.ATTR_OUT_SIZE);
        FuseAttr.putAttrOut(b, st, nodes.ids.ino(id), nodes.blksize, nodes.options.attrTimeout());
        r.reply(b);
    }

    /** The target, without a NUL. */
    void readlink(FuseRequest r) throws FsException {
        byte[] target = ops.readlink(nodes.inode(r)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = r.replyBuffer(target.length);
        b.put(target);
        r.reply(b);
    }

    /**
     * fuse_open_in: flags, open_flags. As JbtrfsFuse (and may_open): EROFS for writing on a read-only mount, EISDIR
     * for a directory, EPERM for writing an immutable file or for more than appending to an append-only one.
     * O_TRUNC arrives only with ATOMIC_O_TRUNC: the truncation happens here, with the suid/sgid clearing the kernel
     * asks for (FUSE_OPEN_KILL_SUIDGID).
     */
    void open(FuseRequest r) throws FsException {
        InArgs in = r.in();
        int flags = in.u32();
        int openFlags = in.u32();
        boolean writing = (flags & O_ACCMODE) != 0 || (flags & O_TRUNC) != 0;
        if (writing && ops.readOnly()) throw new ReplyError(ReplyError.EROFS);
        InodeId id = nodes.inode(r);
        Stat st = ops.stat(id);
        if (st.isDirectory()) throw new ReplyError(ReplyError.EISDIR);
        if (writing) {
            long attrs = ops.fileFlags(id);
            if ((attrs & InodeFlags.FS_IMMUTABLE_FL) != 0) throw new ReplyError(ReplyError.EPERM);
            if ((attrs & InodeFlags.FS_APPEND_FL) != 0 && ((flags & O_APPEND) == 0 || (flags & O_TRUNC) != 0)) {
                throw new ReplyError(ReplyError.EPERM);
            }
        }
        if ((flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != 0) {
            ops.truncate(id, 0);
            // the kernel refreshes only size and times after an O_TRUNC open: a dropped bit drops its cached mode
            if ((openFlags & FUSE_OPEN_KILL_SUIDGID) != 0) killSetIdBits(r, id);
        }
        replyOpen(r, nodes.table.open(r.nodeId()), FOPEN_KEEP_CACHE);
    }

    /** fuse_open_out: fh, open_flags, backing_id. */
    static void replyOpen(FuseRequest r, long fh, int openFlags) {
        ByteBuffer b = r.replyBuffer(Nodes.OPEN_OUT_SIZE);
        b.putLong(fh).putInt(openFlags).putInt(0);
        r.reply(b);
    }

    /** fuse_read_in: fh, offset, size. The data goes straight into the reply buffer. */
    void read(FuseRequest r) throws FsException {
        ReadIn read = ReadIn.of(r);
        ByteBuffer b = read.reply();
        int n = ops.read(nodes.inode(r), read.offset(), b);
        b.limit(read.size()).position(n);
        metrics.bytesRead(n);
        r.reply(b);
    }

    /**
     * fuse_write_in: fh, offset, size, write_flags; the data, taken from the request body as it lies. With writeback
     * caching (FUSE_WRITE_CACHE) the kernel writes back on any handle of the inode: the node id is what counts; it
     * stamped mtime and ctime at write(2) and sends them itself, so the write back leaves them as they are.
     */
    void write(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(8);
        long offset = in.u64();
        int size = in.u32();
        int writeFlags = in.u32();
        in.skip(16);
        if (size < 0) throw new ReplyError(ReplyError.EINVAL);
        ByteBuffer data = in.bytes(size);
        InodeId id = nodes.inode(r);
        if ((writeFlags & FUSE_WRITE_KILL_SUIDGID) != 0) killSetIdBits(r, id);
        int n;
        try {
            n = (writeFlags & FUSE_WRITE_CACHE) != 0 ? ops.writeBack(id, offset, data) : ops.write(id, offset, data);
        } catch (FsException e) {
            if (e.errno() != Errno.EPERM) throw e;
            n = writeBackAppended(id, offset, data, writeFlags, e);
        }
        metrics.bytesWritten(n);
        ByteBuffer b = r.replyBuffer(8);
        b.putInt(n).putInt(0);
        r.reply(b);
    }

    /**
     * Writing back cached pages (FUSE_WRITE_CACHE) of an append-only file: the kernel sends whole pages, which start
     * below the end of the file, and fs-core refuses any write there. Only an O_APPEND open could dirty them (OPEN
     * refuses any other for writing), so what lies below the end is what the file holds: the rest is written, and
     * the whole range answered as written, or the appended data would be lost.
     */
    private int writeBackAppended(InodeId id, long offset, ByteBuffer data, int writeFlags, FsException e)
            throws FsException {
        long size = ops.stat(id).size();
        boolean appendOnly = (ops.fileFlags(id) & InodeFlags.FS_APPEND_FL) != 0;
        if ((writeFlags & FUSE_WRITE_CACHE) == 0 || !appendOnly || offset >= size) throw e;
        int whole = data.remaining();
        long skip = Math.min(size - offset, whole);
        data.position(data.position() + (int) skip);
        if (data.hasRemaining()) ops.writeBack(id, size, data);
        return whole;
    }

    /** RELEASE and RELEASEDIR: fuse_release_in's fh. */
    void release(FuseRequest r) {
        long fh = r.in().u64();
        r.reply();
        // counted after the reply: the kernel holds the inode until it reads the reply, and a prune after the last
        // handle (Nodes.lastHandleReleased) must come when every release, on whichever worker, has been answered
        long last = nodes.table.release(fh);
        if (last != 0) nodes.lastHandleReleased(last);
    }

    /** FSYNC and FSYNCDIR: fuse_fsync_in: fh, fsync_flags. */
    void fsync(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(8);
        boolean dataOnly = (in.u32() & FUSE_FSYNC_FDATASYNC) != 0;
        ops.fsync(nodes.inode(r), dataOnly);
        r.reply();
    }

    /**
     * fuse_fallocate_in: fh, offset, length, mode. The kernel's Btrfs drops suid/sgid first as any change of a file
     * does (file_modified); FUSE asks for no killing on FALLOCATE, so the caller's capability and groups decide here.
     */
    void fallocate(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(8);
        long offset = in.u64();
        long length = in.u64();
        int mode = in.u32();
        InodeId id = nodes.inode(r);
        if (!Callers.capable(r, Callers.CAP_FSETID)) killSetIdBits(r, id);
        ops.fallocate(id, mode, offset, length);
        r.reply();
    }

    /**
     * Drops suid, and sgid where group execute is set or the caller is outside the file's group, as the kernel's
     * Btrfs does on a change by an unprivileged caller. After a FALLOCATE, a direct (O_DIRECT) WRITE or an O_TRUNC
     * OPEN the kernel refreshes only size and times, so its cached mode is dropped too.
     */
    private void killSetIdBits(FuseRequest r, InodeId id) throws FsException {
        if (nodes.killSuidSgid(r, id)) nodes.attributesChanged(r.nodeId());
    }

    /**
     * fuse_lseek_in: fh, offset, whence. Only SEEK_DATA and SEEK_HOLE reach us. Where fs-core cannot answer them the
     * reply is ENOSYS, on which the kernel answers them itself from then on (the whole file as data).
     */
    void lseek(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(8);
        long offset = in.u64();
        int whence = in.u32();
        if (whence != SEEK_DATA && whence != SEEK_HOLE) throw new ReplyError(ReplyError.EINVAL);
        long at;
        try {
            at = ops.seekData(nodes.inode(r), offset, whence == SEEK_HOLE);
        } catch (FsException e) {
            if (e.errno() != Errno.EOPNOTSUPP) throw e;
            throw new ReplyError(ReplyError.ENOSYS);
        }
        ByteBuffer b = r.replyBuffer(8);
        b.putLong(at);
        r.reply(b);
    }

    /** With default_permissions the kernel checks access itself; here the node must only exist. */
    void access(FuseRequest r) throws FsException {
        ops.stat(nodes.inode(r));
        r.reply();
    }

    /** struct fuse_kstatfs (80 bytes). */
    void statfs(FuseRequest r) throws FsException {
        StatFs s = ops.statfs();
        ByteBuffer b = r.replyBuffer(80);
        b.putLong(s.blocks()).putLong(s.blocksFree()).putLong(s.blocksAvailable()).putLong(s.files())
                .putLong(s.filesFree());
        b.putInt((int) s.blockSize()).putInt((int) s.nameMax()).putInt((int) s.blockSize()).putInt(0);
        b.position(b.position() + 6 * 4);
        r.reply(b);
    }
}
