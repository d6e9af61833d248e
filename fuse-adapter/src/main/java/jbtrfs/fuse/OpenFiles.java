package jbtrfs.fuse;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import jbtrfs.fs.InodeId;

/** File handles handed to FUSE at open: reads then skip path resolution. Thread-safe. */
final class OpenFiles {
    private final ConcurrentHashMap<Long, InodeId> handles = new ConcurrentHashMap<>();
    private final AtomicLong next = new AtomicLong(1);

    long open(InodeId id) {
        long fh = next.getAndIncrement();
        handles.put(fh, id);
        return fh;
    }

    /** The inode behind {@code fh}, or null for an unknown handle. */
    InodeId get(long fh) {
        return handles.get(fh);
    }

    void release(long fh) {
        handles.remove(fh);
    }

    int size() {
        return handles.size();
    }
}
