package jbtrfs.fuse;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;

/**
 * The libfuse transport's paths resolved to inodes (libfuse 2 hands every call a path): shared by FUSE's threads,
 * forgotten by the name changes that make them stale, and cleared whole past {@value #MAX} entries.
 */
final class PathCache {
    private static final int MAX = 200_000;

    private final FsOperations ops;
    private final ConcurrentHashMap<String, InodeId> paths = new ConcurrentHashMap<>();
    /** Moves on every name change; a resolution that saw it move is not cached. */
    private final AtomicLong epoch = new AtomicLong();

    PathCache(FsOperations ops) {
        this.ops = ops;
    }

    /** The directory of {@code path} and the last name in it. */
    record Parent(InodeId dir, String name) {
    }

    InodeId resolve(String path) throws FsException {
        InodeId id = paths.get(path);
        if (id != null) return id;
        long seen = epoch.get();
        id = ops.resolve(path);
        if (paths.size() > MAX) paths.clear();
        // a name change during the resolution may have made it stale: cache only what no change raced with
        if (epoch.get() == seen) {
            paths.put(path, id);
            if (epoch.get() != seen) paths.remove(path);
        }
        return id;
    }

    Parent parent(String path) throws FsException {
        int slash = path.lastIndexOf('/');
        String dir = slash <= 0 ? "/" : path.substring(0, slash);
        return new Parent(resolve(dir), path.substring(slash + 1));
    }

    /** Forgets {@code path} and every cached path under it (a rename moves them all). */
    void forget(String path) {
        forgetName(path);
        String prefix = path.endsWith("/") ? path : path + "/";
        paths.keySet().removeIf(p -> p.startsWith(prefix));
    }

    /**
     * Forgets one name that has nothing cached under it: a name just made (create, mknod, mkdir, symlink, link),
     * a non-directory removed, or a directory removed (rmdir needs it empty, and each child removed forgot its own
     * path). Scanning the whole cache for each would cost every create and rmdir the cache's size.
     */
    void forgetName(String path) {
        epoch.incrementAndGet();
        paths.remove(path);
    }
}
