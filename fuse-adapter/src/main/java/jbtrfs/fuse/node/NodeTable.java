package jbtrfs.fuse.node;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.fs.FsOperations;

/**
 * What the kernel holds of each node: its lookup count (every reply that hands the kernel a node id adds one,
 * FORGET takes them back) and its open handles. A node whose count and handles both reach zero is dropped and
 * {@link FsOperations#evict} is called for it on {@code background}, off the request path: fs-core frees an
 * inode whose last name went while it was in use. Also the parent of each directory the kernel was shown (the
 * kernel asks ".." of a directory found by file handle). Thread-safe.
 */
final class NodeTable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeTable.class);

    /** Counts of one node; changed only inside the map's compute, which serializes them per node. */
    private static final class Node {
        long lookups;
        long opens;
    }

    private final FsOperations ops;
    private final NodeIds ids;
    private final Executor background;
    private final ConcurrentHashMap<Long, Node> nodes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Long> handles = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Long> parents = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);

    NodeTable(FsOperations ops, NodeIds ids, Executor background) {
        this.ops = ops;
        this.ids = ids;
        this.background = background;
    }

    /** The kernel was handed {@code nodeId} once more (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK, LINK, READDIRPLUS). */
    void lookedUp(long nodeId) {
        nodes.compute(nodeId, (k, n) -> {
            Node node = n != null ? n : new Node();
            node.lookups++;
            return node;
        });
    }

    /** FORGET: the kernel drops {@code count} of its references. */
    void forget(long nodeId, long count) {
        update(nodeId, count, 0);
    }

    /** A new handle (OPEN, CREATE, TMPFILE, OPENDIR) on {@code nodeId}. */
    long open(long nodeId) {
        update(nodeId, 0, -1);
        long fh = nextHandle.getAndIncrement();
        handles.put(fh, nodeId);
        return fh;
    }

    /**
     * RELEASE, RELEASEDIR: an unknown handle is ignored (the kernel sends each once). Returns the node when this was
     * its last handle, else 0.
     */
    long release(long fh) {
        Long nodeId = handles.remove(fh);
        if (nodeId == null) return 0;
        return update(nodeId, 0, 1) ? nodeId : 0;
    }

    /** How many nodes the kernel holds: for tests and metrics. */
    int size() {
        return nodes.size();
    }

    /** The kernel's lookup count of {@code nodeId} (0 when it holds none). */
    long lookups(long nodeId) {
        Node n = nodes.get(nodeId);
        return n == null ? 0 : n.lookups;
    }

    void parent(long dirNodeId, long parentNodeId) {
        if (dirNodeId != NodeIds.ROOT_ID) parents.put(dirNodeId, parentNodeId);
    }

    /** The parent directory last seen for {@code dirNodeId}; the mount root is its own; null when never seen. */
    Long parentOf(long dirNodeId) {
        if (dirNodeId == NodeIds.ROOT_ID) return NodeIds.ROOT_ID;
        return parents.get(dirNodeId);
    }

    void forgetParent(long dirNodeId) {
        parents.remove(dirNodeId);
    }

    /**
     * Takes {@code forgotten} lookups away and adds {@code -opened} handles (negative: one more handle); true when
     * no handle is left.
     */
    private boolean update(long nodeId, long forgotten, long released) {
        boolean[] dropped = new boolean[1];
        boolean[] closed = new boolean[1];
        nodes.compute(nodeId, (k, n) -> {
            Node node = n != null ? n : new Node();
            node.lookups = Math.max(0, node.lookups - forgotten);
            node.opens = Math.max(0, node.opens - released);
            closed[0] = node.opens == 0;
            if (node.lookups == 0 && node.opens == 0) {
                dropped[0] = n != null;
                return null;
            }
            return node;
        });
        if (dropped[0]) {
            parents.remove(nodeId);
            background.execute(() -> evict(nodeId));
        }
        return closed[0];
    }

    private void evict(long nodeId) {
        try {
            ops.evict(ids.inode(nodeId));
        } catch (Exception e) {
            LOG.warn("evicting node {}: {}", nodeId, e.getMessage());
        }
    }
}
