package jbtrfs.testing;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import jbtrfs.FsException;
import jbtrfs.fs.DirEntry;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;

/**
 * Visits everything a mount shows, as a user's {@code find -exec cat} and {@code getfattr -d} would: every directory
 * listed, every name looked up and stat'ed, files read, links read, xattrs listed and read. An {@link FsException}
 * (EIO, EUCLEAN, ...) is what a user would see for that one path: counted, and the walk goes on; anything else
 * escapes to the caller. Bounded (entries, bytes a file), so a damaged image whose sizes or directories loop still
 * ends.
 */
public final class ImageWalk {
    private static final int MAX_ENTRIES = 20_000;
    private static final int MAX_FILE_BYTES = 4 << 20;
    private static final int READ_CHUNK = 128 << 10;

    private final FsOperations ops;
    private final List<String> errors = new ArrayList<>();
    private int entries;
    private long bytesRead;

    private ImageWalk(FsOperations ops) {
        this.ops = ops;
    }

    /** Walks the whole mount from its root; returns what was seen. */
    public static Result walk(FsOperations ops) {
        ImageWalk w = new ImageWalk(ops);
        w.run();
        return new Result(w.entries, w.bytesRead, List.copyOf(w.errors));
    }

    /** Paths visited, file bytes read, and the one-line errors met (path: message). */
    public record Result(int entries, long bytesRead, List<String> errors) {
    }

    private void run() {
        Set<InodeId> seen = new HashSet<>();
        ArrayDeque<InodeId> dirs = new ArrayDeque<>();
        InodeId root = ops.root();
        seen.add(root);
        if (visit("/", root)) dirs.add(root);
        while (!dirs.isEmpty() && entries < MAX_ENTRIES) {
            InodeId dir = dirs.poll();
            long offset = 0;
            try {
                while (entries < MAX_ENTRIES) {
                    List<DirEntry> batch = ops.readdir(dir, offset, 256);
                    if (batch.isEmpty()) break;
                    for (DirEntry e : batch) {
                        entries++;
                        if (e.name().equals(".") || e.name().equals("..")) continue;
                        InodeId id = lookup(dir, e);
                        if (id != null && seen.add(id) && visit(dir + "/" + e.name(), id)) dirs.add(id);
                    }
                    long next = batch.get(batch.size() - 1).offset();
                    if (next <= offset) break; // a readdir offset that does not move on would loop
                    offset = next;
                }
            } catch (FsException ex) {
                error("readdir " + dir, ex);
            }
        }
    }

    private InodeId lookup(InodeId dir, DirEntry e) {
        try {
            return ops.lookup(dir, e.name());
        } catch (FsException ex) {
            error("lookup " + dir + "/" + e.name(), ex);
            return e.id();
        }
    }

    /** Stats, reads and lists the xattrs of {@code id}; returns whether it is a directory to descend into. */
    private boolean visit(String path, InodeId id) {
        Stat st;
        try {
            st = ops.stat(id);
        } catch (FsException ex) {
            error("stat " + path, ex);
            return false;
        }
        try {
            for (String name : ops.listXattr(id)) {
                try {
                    ops.getXattr(id, name);
                } catch (FsException ex) {
                    error("getxattr " + path + " " + name, ex);
                }
            }
        } catch (FsException ex) {
            error("listxattr " + path, ex);
        }
        if (st.isSymlink()) {
            try {
                ops.readlink(id);
            } catch (FsException ex) {
                error("readlink " + path, ex);
            }
        } else if (st.isRegular()) {
            read(path, id, st.size());
        }
        return st.isDirectory();
    }

    private void read(String path, InodeId id, long size) {
        ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
        long end = Math.min(size, MAX_FILE_BYTES);
        try {
            for (long off = 0; off < end; ) {
                buf.clear();
                int n = ops.read(id, off, buf);
                if (n <= 0) break;
                bytesRead += n;
                off += n;
            }
            if (size > MAX_FILE_BYTES) { // the tail too: where a damaged size points
                buf.clear();
                bytesRead += Math.max(0, ops.read(id, size - 1, buf));
            }
        } catch (FsException ex) {
            error("read " + path, ex);
        }
    }

    private void error(String what, FsException ex) {
        if (errors.size() < 50) errors.add(what + ": " + ex.getClass().getSimpleName() + ": " + ex.getMessage());
    }
}
