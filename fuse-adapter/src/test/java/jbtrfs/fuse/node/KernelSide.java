package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.fuse.kernel.FuseAbi;


/** Drives a {@link NodeHandler} as the kernel would, one request at a time, and decodes the replies. */
final class KernelSide {
    /** struct fuse_attr, decoded. */
    record Attr(long ino, long size, long blocks, long atime, long mtime, long ctime, int atimensec, int mtimensec,
                int ctimensec, int mode, int nlink, int uid, int gid, int rdev, int blksize) {
        static Attr decode(ByteBuffer b) {
            Attr a = new Attr(b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong(),
                    b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(),
                    b.getInt());
            b.getInt(); // flags
            return a;
        }
    }

    /** struct fuse_entry_out, decoded (attr null for node id 0). */
    record Entry(long nodeId, long generation, long entryValid, long attrValid, Attr attr) {
        static Entry decode(ByteBuffer b) {
            long nodeId = b.getLong();
            long gen = b.getLong();
            long entryValid = b.getLong();
            long attrValid = b.getLong();
            b.getInt();
            b.getInt();
            Attr a = Attr.decode(b);
            return new Entry(nodeId, gen, entryValid, attrValid, nodeId == 0 ? null : a);
        }
    }

    /** One READDIR(PLUS) entry; {@code entry} only with READDIRPLUS. */
    record Dirent(String name, long ino, long off, int type, Entry entry) {
    }

    private final NodeHandler handler;

    KernelSide(NodeHandler handler) {
        this.handler = handler;
    }

    /** Sends one request; the answer is in it. */
    FakeRequest send(int opcode, long nodeId, FakeRequest.Body body) throws Exception {
        FakeRequest r = new FakeRequest(opcode, nodeId, body);
        handler.handle(r);
        return r;
    }

    FakeRequest send(FakeRequest r) throws Exception {
        handler.handle(r);
        return r;
    }

    Entry lookup(long dir, String name) throws Exception {
        return Entry.decode(send(FuseAbi.LOOKUP, dir, FakeRequest.body().name(name)).payload());
    }

    /** The entry of a path from the root, one LOOKUP per name. */
    Entry walk(String path) throws Exception {
        Entry e = null;
        long node = NodeIds.ROOT_ID;
        for (String part : path.split("/")) {
            if (part.isEmpty()) continue;
            e = lookup(node, part);
            node = e.nodeId();
        }
        return e;
    }

    Attr getattr(long node) throws Exception {
        ByteBuffer b = send(FuseAbi.GETATTR, node, FakeRequest.body().u32(0).u32(0).u64(0)).payload();
        b.position(16);
        return Attr.decode(b);
    }

    void forget(long node, long count) throws Exception {
        FakeRequest r = send(FuseAbi.FORGET, node, FakeRequest.body().u64(count));
        if (!r.noReplySent()) throw new AssertionError("FORGET was answered");
    }

    /** CREATE: the entry and the handle. */
    record Created(Entry entry, long fh) {
    }

    Created create(long dir, String name, int mode) throws Exception {
        ByteBuffer b = send(FuseAbi.CREATE, dir, FakeRequest.body().u32(02 | 0100).u32(mode).u32(022).u32(0)
                .name(name)).payload();
        Entry e = Entry.decode(b);
        return new Created(e, b.getLong());
    }

    long open(long node, int flags) throws Exception {
        return send(FuseAbi.OPEN, node, FakeRequest.body().u32(flags).u32(0)).payload().getLong();
    }

    void release(long node, long fh) throws Exception {
        send(FuseAbi.RELEASE, node, FakeRequest.body().u64(fh).u32(0).u32(0).u64(0)).payload();
    }

    int write(long node, long fh, long offset, byte[] data) throws Exception {
        return send(FuseAbi.WRITE, node, FakeRequest.body().u64(fh).u64(offset).u32(data.length).u32(0).u64(0)
                .u32(0).u32(0).bytes(data)).payload().getInt();
    }

    byte[] read(long node, long fh, long offset, int size) throws Exception {
        ByteBuffer b = send(FuseAbi.READ, node, FakeRequest.body().u64(fh).u64(offset).u32(size).u32(0).u64(0)
                .u32(0).u32(0)).payload();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** One READDIR or READDIRPLUS reply from {@code offset}, at most {@code size} bytes. */
    List<Dirent> readdir(long dir, long offset, int size, boolean plus) throws Exception {
        ByteBuffer b = send(plus ? FuseAbi.READDIRPLUS : FuseAbi.READDIR, dir, FakeRequest.body().u64(0)
                .u64(offset).u32(size).u32(0).u64(0).u32(0).u32(0)).payload();
        List<Dirent> out = new ArrayList<>();
        while (b.hasRemaining()) {
            Entry e = plus ? Entry.decode(b) : null;
            int start = b.position();
            long ino = b.getLong();
            long off = b.getLong();
            int namelen = b.getInt();
            int type = b.getInt();
            byte[] name = new byte[namelen];
            b.get(name);
            b.position(start + ((24 + namelen + 7) & ~7));
            out.add(new Dirent(new String(name, StandardCharsets.UTF_8), ino, off, type, e));
        }
        return out;
    }

    /** A whole directory, READDIR(PLUS) after READDIR(PLUS) from the last offset, as the kernel lists it. */
    List<Dirent> list(long dir, int size, boolean plus) throws Exception {
        List<Dirent> all = new ArrayList<>();
        long offset = 0;
        while (true) {
            List<Dirent> page = readdir(dir, offset, size, plus);
            if (page.isEmpty()) return all;
            all.addAll(page);
            offset = page.get(page.size() - 1).off();
        }
    }

    /** RENAME2; the errno (0 for success). */
    int rename2(long fromDir, String from, long toDir, String to, int flags) throws Exception {
        return send(FuseAbi.RENAME2, fromDir, FakeRequest.body().u64(toDir).u32(flags).u32(0).name(from).name(to))
                .errno();
    }
}
