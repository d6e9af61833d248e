package jbtrfs.fuse.node;

import java.nio.ByteBuffer;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * COPY_FILE_RANGE and COPY_FILE_RANGE_64 (protocol 7.45) through {@link FsOperations#copyFileRange}: a reflink where
 * the kernel's Btrfs would make one, a copy otherwise. The kernel flushes both files' cached pages in the ranges
 * before it asks and drops the destination's after.
 */
final class CopyRangeRequests {
    /** The most opcode 47's 32-bit reply can say: the kernel asks for no more (UINT_MAX rounded down to a page). */
    private static final long MAX_32 = 0xfffff000L;

    private final Nodes nodes;

    CopyRangeRequests(Nodes nodes) {
        this.nodes = nodes;
    }

    /**
     * fuse_copy_file_range_in: fh_in, off_in, nodeid_out, fh_out, off_out, len, flags; the source is the request's
     * node. The reply is fuse_write_out (size, padding) for COPY_FILE_RANGE, fuse_copy_file_range_out (bytes_copied)
     * for COPY_FILE_RANGE_64.
     */
    void copy(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(8);
        long srcOffset = in.u64();
        long dstNode = in.u64();
        in.skip(8);
        long dstOffset = in.u64();
        long length = in.u64();
        long flags = in.u64();
        if (flags != 0) throw new ReplyError(ReplyError.EINVAL);
        boolean wide = r.opcode() == FuseAbi.COPY_FILE_RANGE_64;
        if (length < 0) length = Long.MAX_VALUE; // a u64 past 2^63: the source's end comes first
        if (!wide) length = Math.min(length, MAX_32);
        long copied = nodes.ops.copyFileRange(nodes.inode(r), srcOffset, nodes.ids.inode(dstNode), dstOffset, length,
                0);
        ByteBuffer b = r.replyBuffer(8);
        if (wide) b.putLong(copied);
        else b.putInt((int) copied).putInt(0);
        r.reply(b);
    }
}
