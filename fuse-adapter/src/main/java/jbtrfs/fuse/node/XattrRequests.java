package jbtrfs.fuse.node;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/** SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR; a size of 0 asks only how big the answer is (fuse_getxattr_out). */
final class XattrRequests extends NodeRequests {
    private static final int SETXATTR_ACL_KILL_SGID = 1;

    XattrRequests(Nodes nodes) {
        super(nodes);
    }

    /**
     * fuse_setxattr_in: size, flags (XATTR_CREATE, XATTR_REPLACE), and with SETXATTR_EXT setxattr_flags (an ACL
     * set by a caller outside the file's group: FUSE_SETXATTR_ACL_KILL_SGID) and padding; the name; the value.
     */
    void setxattr(FuseRequest r) throws FsException {
        InArgs in = r.in();
        int size = in.u32();
        int flags = in.u32();
        if (nodes.granted(FuseAbi.SETXATTR_EXT)) {
            if ((in.u32() & SETXATTR_ACL_KILL_SGID) != 0) flags |= FsOperations.XATTR_KILL_SGID;
            in.skip(4);
        }
        String name = in.cstring();
        if (size < 0) throw new ReplyError(ReplyError.EINVAL);
        ByteBuffer value = in.bytes(size);
        byte[] v = new byte[size];
        value.get(v);
        ops.setXattr(nodes.inode(r), name, v, flags);
        r.reply();
    }

    /** fuse_getxattr_in: size; the name. */
    void getxattr(FuseRequest r) throws FsException {
        InArgs in = r.in();
        int size = in.u32();
        in.skip(4);
        String name = in.cstring();
        replySized(r, size, ops.getXattr(nodes.inode(r), name));
    }

    /** fuse_getxattr_in: size. The names, each NUL-terminated. */
    void listxattr(FuseRequest r) throws FsException {
        int size = r.in().u32();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String n : ops.listXattr(nodes.inode(r))) {
            out.writeBytes(n.getBytes(StandardCharsets.UTF_8));
            out.write(0);
        }
        replySized(r, size, out.toByteArray());
    }

    void removexattr(FuseRequest r) throws FsException {
        ops.removeXattr(nodes.inode(r), r.in().cstring());
        r.reply();
    }

    /** Size 0: fuse_getxattr_out with the length; too small: ERANGE; else the bytes. */
    private static void replySized(FuseRequest r, int size, byte[] value) {
        if (size == 0) {
            ByteBuffer b = r.replyBuffer(8);
            b.putInt(value.length).putInt(0);
            r.reply(b);
            return;
        }
        if (Integer.compareUnsigned(size, value.length) < 0) throw new ReplyError(ReplyError.ERANGE);
        ByteBuffer b = r.replyBuffer(value.length);
        b.put(value);
        r.reply(b);
    }
}
