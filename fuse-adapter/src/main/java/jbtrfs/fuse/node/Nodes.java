package jbtrfs.fuse.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;
import jbtrfs.fs.TreeSearchItem;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseConnection;
import jbtrfs.fuse.kernel.FuseNotifier;
import jbtrfs.fuse.kernel.FuseRequest;

/**
 * What every request class shares: fs-core, the node ids and table, the options, what INIT settled, and the
 * replies that hand the kernel a node (each of which adds one to its lookup count, after the reply is built).
 */
final class Nodes {
    private static final Logger LOG = LoggerFactory.getLogger(Nodes.class);
    /** struct fuse_open_out: fh, open_flags, backing_id. */
    static final int OPEN_OUT_SIZE = 16;
    private static final int S_ISUID = 04000;
    private static final int S_ISGID = 02000;
    private static final int S_IXGRP = 00010;
    /** How long after a chattr a LOOKUP of the file waits for the kernel to let go of its old inode. */
    private static final long STALE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** How long a chattr's reply waits for the invalidation of the file's names, sent from another thread. */
    private static final long INVALIDATION_WAIT_MILLIS = 500;
    /** A file with more names than this is rare; the kernel holds few of them anyway. */
    private static final int MAX_NAMES = 256;

    final FsOperations ops;
    final NodeIds ids;
    final NodeTable table;
    final NodeOptions options;
    final int blksize;
    /** Evictions and invalidations: never on the request that caused them. */
    final Executor background;
    private volatile FuseConnection connection = new FuseConnection(0, 0, 0, 0);
    private volatile FuseNotifier notifier;
    /** Regular files whose ctime the kernel shows stale until it drops its inode: see timesChangedBehindKernel. */
    private final ConcurrentHashMap<Long, StaleInode> staleTimes = new ConcurrentHashMap<>();

    /** A kernel inode to be dropped: LOOKUPs of it wait for {@code released} until {@code deadline} (nanoTime). */
    private record StaleInode(CountDownLatch released, long deadline) {
    }

    Nodes(FsOperations ops, NodeIds ids, NodeTable table, NodeOptions options, int blksize, Executor background) {
        this.ops = ops;
        this.ids = ids;
        this.table = table;
        this.options = options;
        this.blksize = blksize;
        this.background = background;
    }

    void connected(FuseConnection c, FuseNotifier n) {
        connection = c;
        notifier = n;
    }

    /** Where invalidations go; null before INIT. */
    FuseNotifier notifier() {
        return notifier;
    }

    /**
     * Drops the kernel's cached attributes of a node a request changed behind the kernel's back (an ioctl: the
     * kernel refreshes nothing after one), before the reply, so that the caller's next stat sees the change. Sent
     * from the request itself because it is attributes only: for those the kernel takes no lock the request may
     * hold (no pages are touched). A failure only costs the change its visibility until the attribute timeout.
     */
    void attributesChanged(long nodeId) {
        FuseNotifier n = notifier;
        if (n == null) return;
        try {
            n.invalInode(nodeId, -1, 0);
        } catch (IOException e) {
            LOG.debug("invalidating the attributes of node {}: {}", nodeId, e.getMessage());
        }
    }

    /**
     * A request changed the ctime of a regular file without the kernel (an ioctl). With writeback caching the kernel
     * keeps a regular file's ctime and mtime as it last stamped them and takes neither from a reply, so only a fresh
     * kernel inode shows the change. Every name of the file is invalidated, so that the next path walk sends a
     * LOOKUP, which waits for the last RELEASE ({@link #awaitFreshInode}); the kernel evicts an inode no dentry holds
     * once its release ends, and the LOOKUP's reply then builds a new one from our attributes. The names are
     * invalidated on another thread (the kernel takes the directory's lock, which a rename waiting for this file's
     * lock may hold); the reply waits for them, bounded, so that the caller's next stat walks the new way. Kernels
     * before FUSE_NOTIFY_PRUNE keep showing their ctime.
     */
    void timesChangedBehindKernel(long nodeId, InodeId id) throws FsException {
        FuseConnection c = connection;
        FuseNotifier n = notifier;
        if (n == null || !c.granted(FuseAbi.WRITEBACK_CACHE) || c.minor() < FuseAbi.PRUNE_MINOR) return;
        if (!ops.stat(id).isRegular()) return;
        staleTimes.put(nodeId, new StaleInode(new CountDownLatch(1), System.nanoTime() + STALE_WAIT_NANOS));
        List<Name> names = namesOnImage(id);
        try {
            CompletableFuture.runAsync(() -> invalidate(n, names), background)
                    .get(INVALIDATION_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            LOG.debug("the names of node {} are invalidated after the reply", nodeId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | RejectedExecutionException e) {
            // rejected: the session is ending, and the kernel's caches with it
            LOG.debug("invalidating the names of node {}: {}", nodeId, e.toString());
        }
    }

    /** A LOOKUP found {@code nodeId}: if a chattr left its kernel inode stale, waits (bounded) for its last release. */
    void awaitFreshInode(long nodeId) {
        StaleInode s = staleTimes.get(nodeId);
        if (s == null) return;
        long left = s.deadline() - System.nanoTime();
        try {
            if (left > 0 && !s.released().await(left, TimeUnit.NANOSECONDS)) {
                LOG.debug("node {} is still open: its kernel inode keeps its ctime", nodeId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The last handle on {@code nodeId} was released, and the kernel told so: a node with stale times is pruned (a
     * dentry the invalidation did not reach, unused, would keep the inode), then LOOKUPs waiting for it go on.
     */
    void lastHandleReleased(long nodeId) {
        StaleInode s = staleTimes.remove(nodeId);
        if (s == null) return;
        FuseNotifier n = notifier;
        try {
            if (n != null) n.prune(nodeId);
        } catch (IOException e) {
            LOG.debug("pruning node {}: {}", nodeId, e.getMessage());
        } finally {
            s.released().countDown();
        }
    }

    /** One name of an inode: the directory's node id and the name. */
    private record Name(long dirNode, byte[] name) {
    }

    /** The names of {@code id} on the image (its inode refs and extrefs) whose directory the kernel holds. */
    private List<Name> namesOnImage(InodeId id) throws FsException {
        List<Name> out = new ArrayList<>();
        Key min = Key.first(id.objectid(), KeyType.INODE_REF);
        Key max = Key.last(id.objectid(), KeyType.INODE_EXTREF);
        for (TreeSearchItem item : ops.treeSearch(id.root(), min, max, 0, -1L, MAX_NAMES, Integer.MAX_VALUE)) {
            ByteBuffer b = ByteBuffer.wrap(item.data()).order(ByteOrder.LITTLE_ENDIAN);
            if (item.key().type() == KeyType.INODE_REF) {
                for (InodeRef r : InodeRef.readAll(b, 0, b.capacity())) addName(out, id, item.key().offset(), r.name());
            } else if (item.key().type() == KeyType.INODE_EXTREF) {
                for (InodeExtref r : InodeExtref.readAll(b, 0, b.capacity())) {
                    addName(out, id, r.parentObjectid(), r.name());
                }
            }
        }
        return out;
    }

    private void addName(List<Name> out, InodeId id, long dirObjectid, byte[] name) {
        long dirNode = ids.nodeId(new InodeId(id.root(), dirObjectid));
        if (dirNode == NodeIds.ROOT_ID || table.lookups(dirNode) > 0) out.add(new Name(dirNode, name));
    }

    private static void invalidate(FuseNotifier n, List<Name> names) {
        for (Name name : names) {
            try {
                n.invalEntry(name.dirNode(), name.name());
            } catch (IOException e) {
                LOG.debug("invalidating {} in node {}: {}", new String(name.name(), StandardCharsets.UTF_8),
                        name.dirNode(), e.getMessage());
            }
        }
    }

    boolean granted(long initFlag) {
        return connection.granted(initFlag);
    }

    /** The directory holding directory {@code dir} on the image; the mount's root holds itself. */
    InodeId parentOnImage(InodeId dir) throws FsException {
        return dir.equals(ids.mountRoot()) ? dir : ops.parentDirectory(dir);
    }

    /** The inode a request is about. */
    InodeId inode(FuseRequest r) {
        return ids.inode(r.nodeId());
    }

    /**
     * Clears suid and sgid as the kernel asks (FATTR_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID, FUSE_WRITE_KILL_SUIDGID),
     * which it does for a caller without CAP_FSETID: suid, and sgid where group execute is set or the caller of
     * {@code r} is outside the file's group (setattr_should_drop_sgid; the flag alone says group execute only). The
     * kernel asks on every write by a user, so an inode with neither bit set is left alone without a change.
     * Returns whether it had either.
     */
    boolean killSuidSgid(FuseRequest r, InodeId id) throws FsException {
        if ((ops.stat(id).mode() & (S_ISUID | S_ISGID)) == 0) return false;
        ops.killSuidSgid(id, Callers.groups(r));
        return true;
    }

    /**
     * The mode bits a chown clears on a non-directory (FATTR_KILL_SUIDGID beside a new owner, or a chown(-1, -1)):
     * set-user-ID, and set-group-ID where group execute is set or the caller is {@code outsideGroup}, on any type
     * of file, as the kernel's chown_common and setattr_should_drop_sgid do.
     */
    int clearedByChown(InodeId id, boolean outsideGroup) throws FsException {
        int mode = ops.stat(id).mode();
        if ((mode & Stat.S_IFMT) == Stat.S_IFDIR) return 0;
        return (mode & S_ISUID) | ((mode & S_IXGRP) != 0 || outsideGroup ? mode & S_ISGID : 0);
    }

    /**
     * What a chown(-1, -1) by the caller of {@code r} clears, which the kernel does not say: set-group-ID without
     * group execute goes when the caller is outside the file's group and lacks CAP_FSETID (in_group_or_capable).
     * Clearing a bit is a mode change, which only the owner or a holder of CAP_FOWNER may make (setattr_prepare's
     * EPERM; fuse_setattr drops that ATTR_MODE before the kernel checks it). A regular file's SETATTR without the
     * kernel's ctime ({@code kernelCtime} false) may instead be the set-ID clearing of a write by a non-owner
     * (file_remove_privs, ATTR_FORCE), which must pass: it is not refused.
     */
    int clearedBySameOwnerChown(FuseRequest r, InodeId id, boolean kernelCtime) throws FsException {
        Stat st = ops.stat(id);
        boolean member = false;
        for (int g : Callers.groups(r)) member |= g == st.gid();
        int clear = clearedByChown(id, !member && !Callers.capable(r, Callers.CAP_FSETID));
        boolean chown = kernelCtime || (st.mode() & Stat.S_IFMT) != Stat.S_IFREG;
        if (clear != 0 && chown && r.uid() != st.uid() && !Callers.capable(r, Callers.CAP_FOWNER)) {
            throw new ReplyError(ReplyError.EPERM);
        }
        return clear;
    }

    /** Replies fuse_entry_out of {@code id}, found in or made in directory node {@code parent}, and counts it. */
    void replyEntry(FuseRequest r, InodeId id, long parent) throws FsException {
        ByteBuffer b = r.replyBuffer(FuseAttr.ENTRY_OUT_SIZE);
        putCountedEntry(b, id, parent);
        r.reply(b);
    }

    /** Replies fuse_entry_out and fuse_open_out (CREATE, TMPFILE): the node counted, a handle opened on it. */
    void replyCreated(FuseRequest r, InodeId id, long parent, int openFlags) throws FsException {
        ByteBuffer b = r.replyBuffer(FuseAttr.ENTRY_OUT_SIZE + OPEN_OUT_SIZE);
        long nodeId = putCountedEntry(b, id, parent);
        b.putLong(table.open(nodeId)).putInt(openFlags).putInt(0);
        r.reply(b);
    }

    /**
     * fuse_entry_out of {@code id} (in directory node {@code parent}, 0 when not known) into {@code b}, counted as handed to the kernel;
     * returns its node id. Nothing is counted when the stat or the encoding fails.
     */
    long putCountedEntry(ByteBuffer b, InodeId id, long parent) throws FsException {
        Stat st = ops.stat(id);
        long nodeId = ids.nodeId(id);
        FuseAttr.putEntry(b, nodeId, st, ids.ino(id), blksize, options);
        table.lookedUp(nodeId);
        if (st.isDirectory() && parent != 0) table.parent(nodeId, parent);
        return nodeId;
    }
}
