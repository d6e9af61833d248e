package jbtrfs.fuse.node;

import java.nio.ByteBuffer;

import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * fuse_read_in (fh, offset, size, read_flags, lock_owner, flags) of READ, READDIR and READDIRPLUS: the offset, and
 * the reply buffer, limited to the size the kernel takes.
 */
record ReadIn(long offset, int size, ByteBuffer reply) {
    static ReadIn of(FuseRequest r) {
        InArgs in = r.in();
        in.skip(8);
        long offset = in.u64();
        int size = in.u32();
        if (size < 0) throw new ReplyError(ReplyError.EINVAL);
        ByteBuffer b = r.replyBuffer(size);
        b.limit(size);
        return new ReadIn(offset, size, b);
    }
}
