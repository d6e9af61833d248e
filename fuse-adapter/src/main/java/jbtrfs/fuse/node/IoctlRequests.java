package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeFlags;
import jbtrfs.fs.InodeId;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * IOCTL: the ones JbtrfsFuse answers (lsattr and chattr): FS_IOC_GETFLAGS and FS_IOC_SETFLAGS (an int each way,
 * whatever size the command says) and their 32-bit forms, FS_IOC_FSGETXATTR and FS_IOC_FSSETXATTR (struct fsxattr,
 * which shares the flags); the scrub ioctls ({@link ScrubRequests}) and the other btrfs ones, FITRIM too
 * ({@link BtrfsRequests}). Any other is ENOTTY. Restricted ioctls only: the kernel sizes the data from the command.
 */
final class IoctlRequests {
    /** _IOR('f', 1, long), _IOW('f', 2, long) and their 32-bit forms (include/uapi/linux/fs.h). */
    static final int FS_IOC_GETFLAGS = 0x80086601;
    static final int FS_IOC_SETFLAGS = 0x40086602;
    static final int FS_IOC32_GETFLAGS = 0x80046601;
    static final int FS_IOC32_SETFLAGS = 0x40046602;
    /** _IOR('X', 31, struct fsxattr) and _IOW('X', 32, ...), 28 bytes. */
    static final int FS_IOC_FSGETXATTR = 0x801c581f;
    static final int FS_IOC_FSSETXATTR = 0x401c5820;
    static final int FSXATTR_SIZE = 28;
    /** struct fuse_ioctl_out: result, flags, in_iovs, out_iovs. */
    private static final int IOCTL_OUT_SIZE = 16;

    private final Nodes nodes;
    private final FsOperations ops;
    private final BtrfsRequests btrfs;
    private final ScrubRequests scrubs;

    IoctlRequests(Nodes nodes) {
        this.nodes = nodes;
        this.ops = nodes.ops;
        this.btrfs = new BtrfsRequests(nodes);
        this.scrubs = new ScrubRequests(nodes.ops);
    }

    /** Where the mount is (a snapshot's source descriptor is resolved against it) and its device. */
    void mountedAt(Path mountpoint, Path device) {
        btrfs.mountedAt(mountpoint, device);
    }

    /** fuse_ioctl_in: fh, flags, cmd, arg, in_size, out_size; in_size bytes of data. */
    void ioctl(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(8 + 4);
        int cmd = in.u32();
        long arg = in.u64();
        int inSize = in.u32();
        int outSize = in.u32();
        InodeId id = nodes.inode(r);
        if (ScrubRequests.handles(cmd)) {
            // the scrub ioctls share btrfs's magic: asked first
            scrubs.ioctl(r, cmd, in, inSize, outSize);
        } else if ((cmd >>> 8 & 0xff) == BtrfsIoctl.MAGIC || cmd == BtrfsIoctl.FITRIM) {
            btrfs.ioctl(r, id, cmd, arg, inSize, outSize);
        } else if (cmd == FS_IOC_GETFLAGS || cmd == FS_IOC32_GETFLAGS) {
            ByteBuffer b = reply(r, outSize, 4);
            b.putInt((int) ops.fileFlags(id));
            r.reply(b);
        } else if (cmd == FS_IOC_FSGETXATTR) {
            // struct fsxattr: the kernel reads it before any chattr; only fsx_xflags is not zero
            ByteBuffer b = reply(r, outSize, FSXATTR_SIZE);
            b.putInt((int) InodeFlags.toXflags(ops.fileFlags(id)));
            for (int at = 4; at < FSXATTR_SIZE; at += 4) b.putInt(0);
            r.reply(b);
        } else if (cmd == FS_IOC_SETFLAGS || cmd == FS_IOC32_SETFLAGS) {
            ByteBuffer data = data(in, inSize, 4);
            setFileFlags(r, id, data.getInt(0) & 0xffffffffL);
            nodes.attributesChanged(r.nodeId());
            nodes.timesChangedBehindKernel(r.nodeId(), id);
            r.reply(reply(r, outSize, 0));
        } else if (cmd == FS_IOC_FSSETXATTR) {
            // struct fsxattr: fsx_xflags, fsx_extsize, fsx_nextents, fsx_projid, fsx_cowextsize (u32 each)
            ByteBuffer d = data(in, inSize, FSXATTR_SIZE);
            setFileFlags(r, id, InodeFlags.fromXflags(ops.fileFlags(id), d.getInt(0) & 0xffffffffL, d.getInt(4),
                    d.getInt(12), d.getInt(16)));
            nodes.attributesChanged(r.nodeId());
            nodes.timesChangedBehindKernel(r.nodeId(), id);
            r.reply(reply(r, outSize, 0));
        } else {
            throw new ReplyError(ReplyError.ENOTTY);
        }
    }

    /** A reply buffer with fuse_ioctl_out (result 0) written, room for {@code dataSize} bytes the kernel allows. */
    static ByteBuffer reply(FuseRequest r, int outSize, int dataSize) {
        if (Integer.compareUnsigned(outSize, dataSize) < 0) throw new ReplyError(ReplyError.EINVAL);
        ByteBuffer b = r.replyBuffer(IOCTL_OUT_SIZE + dataSize);
        b.putInt(0).putInt(0).putInt(0).putInt(0);
        return b;
    }

    static ByteBuffer data(InArgs in, int inSize, int need) {
        if (Integer.compareUnsigned(inSize, need) < 0) throw new ReplyError(ReplyError.EINVAL);
        return in.bytes(need);
    }

    /** Changing +i or +a takes CAP_LINUX_IMMUTABLE: here, root. */
    private void setFileFlags(FuseRequest r, InodeId id, long want) throws FsException {
        long guarded = InodeFlags.FS_IMMUTABLE_FL | InodeFlags.FS_APPEND_FL;
        if (((want ^ ops.fileFlags(id)) & guarded) != 0 && r.uid() != 0) throw new ReplyError(ReplyError.EPERM);
        ops.setFileFlags(id, want);
    }
}
