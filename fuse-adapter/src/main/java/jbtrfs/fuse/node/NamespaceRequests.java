package jbtrfs.fuse.node;

import java.nio.ByteBuffer;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * Names: LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME, RENAME2, CREATE, TMPFILE, and FORGET and
 * BATCH_FORGET, which take back what the replies that name a node gave.
 */
final class NamespaceRequests extends NodeRequests {
    private static final int RENAME_WHITEOUT = 1 << 2;
    private static final int RENAME_FLAGS = FsOperations.RENAME_NOREPLACE | FsOperations.RENAME_EXCHANGE;

    NamespaceRequests(Nodes nodes) {
        super(nodes);
    }

    /**
     * A name in a directory. "." and ".." come from the kernel only for a node found by file handle (EXPORT_SUPPORT):
     * "." is the node itself, ".." the directory holding it on the image (the mount's root holds itself). A missing name is a negative entry the kernel
     * keeps for the negative timeout (node id 0), or ENOENT when names are not cached.
     */
    void lookup(FuseRequest r) throws FsException {
        String name = r.in().cstring();
        long dirNode = r.nodeId();
        InodeId dir = nodes.inode(r);
        if (name.equals(".")) {
            nodes.replyEntry(r, dir, 0);
            return;
        }
        if (name.equals("..")) {
            // from the image, not from what the kernel was shown: after a remount or a dropped cache it knows nothing
            InodeId parent = nodes.parentOnImage(dir);
            nodes.replyEntry(r, parent, 0);
            nodes.table.parent(dirNode, nodes.ids.nodeId(parent));
            return;
        }
        InodeId id = ops.lookupIfExists(dir, name);
        if (id == null) {
            if (nodes.options.negativeTimeout().isZero()) throw new ReplyError(ReplyError.ENOENT);
            ByteBuffer b = r.replyBuffer(FuseAttr.ENTRY_OUT_SIZE);
            FuseAttr.putNegativeEntry(b, nodes.options.negativeTimeout());
            r.reply(b);
            return;
        }
        nodes.awaitFreshInode(nodes.ids.nodeId(id));
        nodes.replyEntry(r, id, dirNode);
    }

    /** fuse_mknod_in: mode, rdev, umask, padding; the name. */
    void mknod(FuseRequest r) throws FsException {
        InArgs in = r.in();
        int mode = in.u32();
        long rdev = in.u32() & 0xffffffffL;
        int umask = in.u32();
        in.skip(4);
        String name = in.cstring();
        InodeId id = ops.mknod(nodes.inode(r), name, mode, rdev, r.uid(), r.gid(), ours(umask));
        nodes.replyEntry(r, id, r.nodeId());
    }

    /** fuse_mkdir_in: mode, umask; the name. */
    void mkdir(FuseRequest r) throws FsException {
        InArgs in = r.in();
        int mode = in.u32();
        int umask = in.u32();
        String name = in.cstring();
        InodeId id = ops.mkdir(nodes.inode(r), name, mode & 07777, r.uid(), r.gid(), ours(umask));
        nodes.replyEntry(r, id, r.nodeId());
    }

    /** The name, then the target. */
    void symlink(FuseRequest r) throws FsException {
        InArgs in = r.in();
        String name = in.cstring();
        String target = in.cstring();
        nodes.replyEntry(r, ops.symlink(nodes.inode(r), name, target, r.uid(), r.gid()), r.nodeId());
    }

    /** fuse_link_in: oldnodeid; the new name. The reply names the old node, counted once more. */
    void link(FuseRequest r) throws FsException {
        InArgs in = r.in();
        InodeId target = nodes.ids.inode(in.u64());
        String name = in.cstring();
        ops.link(target, nodes.inode(r), name);
        nodes.replyEntry(r, target, 0);
    }

    void unlink(FuseRequest r) throws FsException {
        ops.unlink(nodes.inode(r), r.in().cstring());
        r.reply();
    }

    void rmdir(FuseRequest r) throws FsException {
        ops.rmdir(nodes.inode(r), r.in().cstring());
        r.reply();
    }

    /**
     * RENAME (fuse_rename_in) and RENAME2 (fuse_rename2_in: flags). RENAME_WHITEOUT (the VFS checked CAP_MKNOD) leaves
     * a whiteout at the old name, as btrfs_rename's: a character device 0:0 with no permission bits, made right after
     * the rename in the same running transaction (the kernel's Btrfs makes both in one).
     */
    void rename(FuseRequest r, boolean withFlags) throws FsException {
        InArgs in = r.in();
        long toDirNode = in.u64();
        int flags = 0;
        if (withFlags) {
            flags = in.u32();
            in.skip(4);
        }
        String from = in.cstring();
        String to = in.cstring();
        boolean whiteout = (flags & RENAME_WHITEOUT) != 0;
        flags &= ~RENAME_WHITEOUT;
        if ((flags & ~RENAME_FLAGS) != 0 || (flags & RENAME_FLAGS) == RENAME_FLAGS
                || (whiteout && (flags & FsOperations.RENAME_EXCHANGE) != 0)) {
            throw new ReplyError(ReplyError.EINVAL);
        }
        InodeId fromDir = nodes.inode(r);
        InodeId toDir = nodes.ids.inode(toDirNode);
        ops.rename(fromDir, from, toDir, to, flags);
        if (whiteout) ops.mknod(fromDir, from, Stat.S_IFCHR, 0, r.uid(), r.gid());
        if (toDirNode != r.nodeId()) {
            moved(toDir, to, toDirNode);
            if ((flags & FsOperations.RENAME_EXCHANGE) != 0) moved(fromDir, from, r.nodeId());
        }
        r.reply();
    }

    /** A directory that moved to another parent is found there by "..". */
    private void moved(InodeId dir, String name, long dirNode) throws FsException {
        InodeId id = ops.lookup(dir, name);
        if (ops.stat(id).isDirectory()) nodes.table.parent(nodes.ids.nodeId(id), dirNode);
    }

    /**
     * fuse_create_in: flags, mode, umask, open_flags; the name. A new regular file, opened, stamped from the kernel's
     * coarse clock as its writes will be ({@link KernelClock}).
     */
    void create(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(4);
        int mode = in.u32();
        int umask = in.u32();
        in.skip(4);
        String name = in.cstring();
        int m = (mode & Stat.S_IFMT) == 0 ? mode | Stat.S_IFREG : mode;
        InodeId id;
        KernelClock.coarse();
        try {
            id = ops.mknod(nodes.inode(r), name, m, 0, r.uid(), r.gid(), ours(umask));
        } finally {
            KernelClock.end();
        }
        nodes.replyCreated(r, id, r.nodeId(), FileRequests.FOPEN_KEEP_CACHE);
    }

    /** O_TMPFILE: fuse_create_in as CREATE's (the name that follows is the kernel's placeholder, not used). */
    void tmpfile(FuseRequest r) throws FsException {
        InArgs in = r.in();
        in.skip(4);
        int mode = in.u32();
        int umask = in.u32();
        int m = (mode & Stat.S_IFMT) == 0 ? mode | Stat.S_IFREG : mode;
        nodes.replyCreated(r, ops.tmpfile(nodes.inode(r), m, r.uid(), r.gid(), ours(umask)), 0,
                FileRequests.FOPEN_KEEP_CACHE);
    }

    /** fuse_forget_in: nlookup. Never answered, not even when short (the kernel waits for no reply). */
    void forget(FuseRequest r) {
        InArgs in = r.in();
        if (in.remaining() >= 8) nodes.table.forget(r.nodeId(), in.u64());
        r.noReply();
    }

    /** fuse_batch_forget_in: count, then count fuse_forget_one (nodeid, nlookup), as many as the body holds. */
    void batchForget(FuseRequest r) {
        InArgs in = r.in();
        if (in.remaining() >= 8) {
            long count = in.u32() & 0xffffffffL;
            in.skip(4);
            for (long i = 0; i < count && in.remaining() >= 16; i++) {
                long nodeId = in.u64();
                nodes.table.forget(nodeId, in.u64());
            }
        }
        r.noReply();
    }

    /**
     * The umask left to fs-core, which applies it unless the directory has a default ACL: ours only when INIT
     * granted FUSE_DONT_MASK; otherwise the kernel applied it (0).
     */
    private int ours(int umask) {
        return nodes.granted(FuseAbi.DONT_MASK) ? umask : 0;
    }
}
