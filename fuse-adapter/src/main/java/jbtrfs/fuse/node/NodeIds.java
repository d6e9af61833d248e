package jbtrfs.fuse.node;

import jbtrfs.format.ObjectIds;
import jbtrfs.fs.InodeId;

/**
 * Node ids and inode numbers of the native FUSE transport, both derived from (subvolume, objectid) alone, so that
 * they are the same after the daemon restarts (a file handle, node id and generation, resolves after a remount).
 * <p>
 * st_ino: an inode of the top-level subvolume (tree 5) shows its objectid, as the kernel's Btrfs shows it. An inode
 * of any other subvolume or snapshot shows {@code (subvolume id << 40) | objectid}: subvolume ids start at 256, so
 * these numbers start at 2^48, above every objectid of tree 5 that fits (below 2^40), and two subvolumes never
 * share one. An objectid from 2^40 on, or a subvolume id from 2^23 on, does not fit: that inode is refused with
 * EOVERFLOW (as stat(2) refuses an st_ino that does not fit), never shown under a number another inode has. With
 * {@code rawInodes} st_ino is the bare objectid, as the kernel shows it (there each subvolume has its own st_dev,
 * which FUSE cannot give): for comparing with the kernel only.
 * <p>
 * Node ids use the same encoding, except that the mounted subvolume's root directory is FUSE_ROOT_ID (1).
 */
final class NodeIds {
    static final long ROOT_ID = 1;
    private static final int SUBVOLUME_SHIFT = 40;
    private static final long OBJECTID_MASK = (1L << SUBVOLUME_SHIFT) - 1;
    private static final long SUBVOLUME_LIMIT = 1L << (63 - SUBVOLUME_SHIFT);

    private final InodeId mountRoot;
    private final boolean rawInodes;

    NodeIds(InodeId mountRoot, boolean rawInodes) {
        this.mountRoot = mountRoot;
        this.rawInodes = rawInodes;
    }

    InodeId mountRoot() {
        return mountRoot;
    }

    /** The node id the kernel knows {@code id} by; EOVERFLOW where it does not fit. */
    long nodeId(InodeId id) {
        return id.equals(mountRoot) ? ROOT_ID : unique(id);
    }

    /** st_ino of {@code id}; EOVERFLOW where the unique number does not fit. */
    long ino(InodeId id) {
        return rawInodes ? id.objectid() : unique(id);
    }

    /** The inode behind a node id, whether or not the kernel was told of it in this run (file handles). */
    InodeId inode(long nodeId) {
        if (nodeId == ROOT_ID) return mountRoot;
        long root = nodeId >>> SUBVOLUME_SHIFT;
        if (root == 0) return new InodeId(ObjectIds.FS_TREE, nodeId);
        return new InodeId(root, nodeId & OBJECTID_MASK);
    }

    private static long unique(InodeId id) {
        long objectid = id.objectid();
        if (objectid < 0 || objectid > OBJECTID_MASK) throw new ReplyError(ReplyError.EOVERFLOW);
        if (id.root() == ObjectIds.FS_TREE) return objectid;
        if (id.root() <= 0 || id.root() >= SUBVOLUME_LIMIT) throw new ReplyError(ReplyError.EOVERFLOW);
        return (id.root() << SUBVOLUME_SHIFT) | objectid;
    }
}
