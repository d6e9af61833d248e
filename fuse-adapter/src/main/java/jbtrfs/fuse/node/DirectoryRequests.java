package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.fs.DirEntry;
import jbtrfs.fs.InodeId;
import jbtrfs.fuse.kernel.FuseRequest;

/**
 * OPENDIR, READDIR and READDIRPLUS. Entries are struct fuse_dirent (ino, off, namelen, type, the name padded to 8
 * bytes), after a fuse_entry_out each for READDIRPLUS. Offsets as JbtrfsFuse gives them: "." is 1, ".." 2, each
 * entry its dir index + 1, so a listing resumes from any offset the kernel hands back.
 */
final class DirectoryRequests extends NodeRequests {
    private static final int DIRENT_HEADER = 24;
    private static final int DT_DIR = 4;
    private static final long DOT_OFFSET = 1;
    private static final long DOTDOT_OFFSET = 2;
    private static final int PAGE_MAX = 512;

    DirectoryRequests(Nodes nodes) {
        super(nodes);
    }

    /** ENOTDIR unless a directory; the handle only counts the node as open. */
    void opendir(FuseRequest r) throws FsException {
        if (!ops.stat(nodes.inode(r)).isDirectory()) throw new ReplyError(ReplyError.ENOTDIR);
        FileRequests.replyOpen(r, nodes.table.open(r.nodeId()), 0);
    }

    /**
     * fuse_read_in: fh, offset, size. Fills the reply up to size from {@code offset} on; an empty reply is the end.
     * READDIRPLUS counts each entry it hands over with a node id (not "." and "..", which the kernel skips).
     */
    void list(FuseRequest r, boolean plus) throws FsException {
        ReadIn read = ReadIn.of(r);
        long offset = read.offset();
        int size = read.size();
        ByteBuffer b = read.reply();
        long dirNode = r.nodeId();
        InodeId dir = nodes.inode(r);
        if (offset < DOTDOT_OFFSET) {
            if (!ops.stat(dir).isDirectory()) throw new ReplyError(ReplyError.ENOTDIR);
            if (offset < DOT_OFFSET && !putDot(b, ".", nodes.ids.ino(dir), DOT_OFFSET, plus)) {
                r.reply(b);
                return;
            }
            Long parent = nodes.table.parentOf(dirNode);
            long parentIno = nodes.ids.ino(parent == null ? nodes.parentOnImage(dir) : nodes.ids.inode(parent));
            if (!putDot(b, "..", parentIno, DOTDOT_OFFSET, plus)) {
                r.reply(b);
                return;
            }
        }
        long next = Math.max(offset, DOTDOT_OFFSET);
        int page = Math.max(1, Math.min(PAGE_MAX, size / (plus ? FuseAttr.ENTRY_OUT_SIZE + 32 : 32)));
        while (true) {
            List<DirEntry> entries = ops.readdir(dir, next, page);
            if (entries.isEmpty()) break;
            for (DirEntry d : entries) {
                if (!putEntry(b, d, dirNode, plus)) {
                    r.reply(b);
                    return;
                }
                next = d.offset();
            }
        }
        r.reply(b);
    }

    /** "." or "..": with READDIRPLUS after an entry of node id 0, which hands the kernel nothing. */
    private boolean putDot(ByteBuffer b, String name, long ino, long off, boolean plus) {
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        if (b.remaining() < (plus ? FuseAttr.ENTRY_OUT_SIZE : 0) + direntSize(n.length)) return false;
        if (plus) FuseAttr.putEmptyEntry(b);
        putDirent(b, ino, off, n, DT_DIR);
        return true;
    }

    private boolean putEntry(ByteBuffer b, DirEntry d, long dirNode, boolean plus) throws FsException {
        byte[] name = d.name().getBytes(StandardCharsets.UTF_8);
        if (b.remaining() < (plus ? FuseAttr.ENTRY_OUT_SIZE : 0) + direntSize(name.length)) return false;
        long ino = nodes.ids.ino(d.id());
        if (plus) {
            try {
                nodes.putCountedEntry(b, d.id(), dirNode);
            } catch (FsException e) {
                // gone since the listing (or unreadable): the name is listed, its node is left to a LOOKUP
                FuseAttr.putEmptyEntry(b);
            }
        }
        putDirent(b, ino, d.offset(), name, d.type());
        return true;
    }

    private static int direntSize(int nameLength) {
        return (DIRENT_HEADER + nameLength + 7) & ~7;
    }

    private static void putDirent(ByteBuffer b, long ino, long off, byte[] name, int type) {
        int start = b.position();
        b.putLong(ino).putLong(off).putInt(name.length).putInt(type).put(name);
        int end = start + direntSize(name.length);
        while (b.position() < end) b.put((byte) 0);
    }
}
