package jbtrfs.fuse.node;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.MeterRegistry;
import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fuse.ErrnoMapper;
import jbtrfs.fuse.FuseMetrics;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseConnection;
import jbtrfs.fuse.kernel.FuseHandler;
import jbtrfs.fuse.kernel.FuseNotifier;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.MalformedRequestException;

/**
 * The node layer of the native transport: each FUSE opcode onto {@link FsOperations}, by node id (see
 * {@link NodeIds}). Errors reach the kernel as errnos through {@link ErrnoMapper}, as on the libfuse path, and are
 * metered by {@link FuseMetrics} under the same names (the op tag is the opcode's name in lower case). Opcodes it
 * does not serve are ENOSYS, after which the kernel stops sending most of them: FLUSH, GETLK/SETLK (the kernel
 * locks locally), BMAP, POLL.
 */
public final class NodeHandler implements FuseHandler {
    private static final String[] NAMES = names();
    private static final Logger LOG = LoggerFactory.getLogger(NodeHandler.class);

    private final FsOperations ops;
    private final Nodes nodes;
    private final NamespaceRequests names;
    private final FileRequests files;
    private final DirectoryRequests dirs;
    private final XattrRequests xattrs;
    private final IoctlRequests ioctls;
    private final CopyRangeRequests copies;
    private final FuseMetrics metrics;
    /** Evictions and invalidations: never on the request that caused them. */
    private final ExecutorService background;
    private final Set<String> loggedTraces = ConcurrentHashMap.newKeySet();

    /** {@code blksize} is st_blksize (the kernel shows the sectorsize); meters go to {@code registry}. */
    public NodeHandler(FsOperations ops, int blksize, NodeOptions options, MeterRegistry registry) {
        this.ops = ops;
        this.background = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "jbtrfs-nodes");
            t.setDaemon(true);
            return t;
        });
        NodeIds ids = new NodeIds(ops.root(), options.rawInodes());
        this.nodes = new Nodes(ops, ids, new NodeTable(ops, ids, background), options, blksize, background);
        this.metrics = new FuseMetrics(registry);
        this.names = new NamespaceRequests(nodes);
        this.files = new FileRequests(nodes, metrics);
        this.dirs = new DirectoryRequests(nodes);
        this.xattrs = new XattrRequests(nodes);
        this.ioctls = new IoctlRequests(nodes);
        this.copies = new CopyRangeRequests(nodes);
    }

    @Override
    public void init(FuseConnection connection, FuseNotifier notifier) {
        nodes.connected(connection, notifier);
    }

    @Override
    public void handle(FuseRequest r) throws Exception {
        long start = System.nanoTime();
        int result = 0;
        try {
            dispatch(r);
        } catch (MalformedRequestException e) {
            result = -ReplyError.EINVAL;
            throw e;
        } catch (ReplyError e) {
            result = -e.errno();
            r.fail(e.errno());
        } catch (Exception e) {
            result = ErrnoMapper.errno(e);
            log(r, e);
            r.fail(-result);
        } finally {
            metrics.record(name(r.opcode()), System.nanoTime() - start, result);
        }
    }

    private void dispatch(FuseRequest r) throws FsException {
        switch (r.opcode()) {
            case FuseAbi.LOOKUP -> names.lookup(r);
            case FuseAbi.FORGET -> names.forget(r);
            case FuseAbi.BATCH_FORGET -> names.batchForget(r);
            case FuseAbi.MKNOD -> names.mknod(r);
            case FuseAbi.MKDIR -> names.mkdir(r);
            case FuseAbi.SYMLINK -> names.symlink(r);
            case FuseAbi.LINK -> names.link(r);
            case FuseAbi.UNLINK -> names.unlink(r);
            case FuseAbi.RMDIR -> names.rmdir(r);
            case FuseAbi.RENAME -> names.rename(r, false);
            case FuseAbi.RENAME2 -> names.rename(r, true);
            case FuseAbi.CREATE -> names.create(r);
            case FuseAbi.TMPFILE -> names.tmpfile(r);
            case FuseAbi.GETATTR -> files.getattr(r);
            case FuseAbi.STATX -> files.statx(r);
            case FuseAbi.SETATTR -> files.setattr(r);
            case FuseAbi.READLINK -> files.readlink(r);
            case FuseAbi.OPEN -> files.open(r);
            case FuseAbi.READ -> files.read(r);
            case FuseAbi.WRITE -> files.write(r);
            case FuseAbi.RELEASE, FuseAbi.RELEASEDIR -> files.release(r);
            case FuseAbi.FSYNC, FuseAbi.FSYNCDIR -> files.fsync(r);
            case FuseAbi.FALLOCATE -> files.fallocate(r);
            case FuseAbi.LSEEK -> files.lseek(r);
            case FuseAbi.COPY_FILE_RANGE, FuseAbi.COPY_FILE_RANGE_64 -> copies.copy(r);
            case FuseAbi.ACCESS -> files.access(r);
            case FuseAbi.STATFS -> files.statfs(r);
            case FuseAbi.OPENDIR -> dirs.opendir(r);
            case FuseAbi.READDIR -> dirs.list(r, false);
            case FuseAbi.READDIRPLUS -> dirs.list(r, true);
            case FuseAbi.SETXATTR -> xattrs.setxattr(r);
            case FuseAbi.GETXATTR -> xattrs.getxattr(r);
            case FuseAbi.LISTXATTR -> xattrs.listxattr(r);
            case FuseAbi.REMOVEXATTR -> xattrs.removexattr(r);
            case FuseAbi.IOCTL -> ioctls.ioctl(r);
            case FuseAbi.SYNCFS -> {
                ops.sync();
                r.reply();
            }
            default -> throw new ReplyError(ReplyError.ENOSYS);
        }
    }

    /**
     * The mount's path, once mounted (the btrfs snapshot ioctl resolves its source descriptor against it), and the
     * image or device it serves (DEV_INFO's path).
     */
    public void mountedAt(Path mountpoint, Path device) {
        ioctls.mountedAt(mountpoint.toAbsolutePath().normalize(), device.toAbsolutePath().normalize());
    }

    /** Evictions still queued run first; then everything is committed. */
    @Override
    public void destroy() throws Exception {
        background.shutdown();
        if (!background.awaitTermination(30, TimeUnit.SECONDS)) LOG.warn("evictions still running at unmount");
        ops.sync();
    }

    /**
     * Tells the kernel that what it caches of {@code id} (attributes, and data unless {@code attributesOnly}) changed
     * without it, e.g. by a snapshot or a commit of another name. Sent later, on another thread: never call the
     * kernel from inside the request that made the change. Nothing is sent for a node the kernel does not hold.
     */
    public void invalidateInode(InodeId id, boolean attributesOnly) {
        FuseNotifier n = nodes.notifier();
        long nodeId = nodes.ids.nodeId(id);
        if (n == null || (nodeId != NodeIds.ROOT_ID && nodes.table.lookups(nodeId) == 0)) return;
        background.execute(() -> notify("inode " + id, () -> n.invalInode(nodeId, attributesOnly ? -1 : 0, 0)));
    }

    /** Tells the kernel that the name {@code name} in directory {@code dir} changed without it; as above. */
    public void invalidateEntry(InodeId dir, String name) {
        FuseNotifier n = nodes.notifier();
        long nodeId = nodes.ids.nodeId(dir);
        if (n == null || (nodeId != NodeIds.ROOT_ID && nodes.table.lookups(nodeId) == 0)) return;
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        background.execute(() -> notify("entry " + name + " in " + dir, () -> n.invalEntry(nodeId, bytes)));
    }

    /** How many nodes the kernel holds (lookup count or handles above zero). */
    int nodeCount() {
        return nodes.table.size();
    }

    @FunctionalInterface
    private interface Notification {
        void send() throws IOException;
    }

    private static void notify(String what, Notification n) {
        try {
            n.send();
        } catch (IOException e) {
            // the kernel may have dropped the node meanwhile (ENOENT): nothing of it is cached then
            LOG.debug("invalidating {}: {}", what, e.getMessage());
        }
    }

    private void log(FuseRequest r, Exception e) {
        if (ErrnoMapper.expected(e)) return;
        String op = name(r.opcode());
        if (e instanceof FsException) {
            LOG.warn("{} node {}: {}", op, r.nodeId(), e.getMessage());
        } else if (firstOfItsKind(e)) {
            LOG.error("{} node {}: unexpected error", op, r.nodeId(), e);
        } else {
            LOG.error("{} node {}: unexpected error {} (stack trace logged before)", op, r.nodeId(), e.toString());
        }
    }

    /** Whether no error of this class was thrown from the same place before: its stack trace is then worth a log. */
    private boolean firstOfItsKind(Throwable t) {
        StackTraceElement[] st = t.getStackTrace();
        String where = t.getClass().getName() + (st.length > 0 ? "@" + st[0] : "");
        return loggedTraces.size() < 1000 && loggedTraces.add(where);
    }

    static String name(int opcode) {
        return opcode >= 0 && opcode < NAMES.length && NAMES[opcode] != null ? NAMES[opcode] : "opcode" + opcode;
    }

    private static String[] names() {
        String[] n = new String[54];
        String all = "1 lookup 2 forget 3 getattr 4 setattr 5 readlink 6 symlink 8 mknod 9 mkdir 10 unlink 11 rmdir "
                + "12 rename 13 link 14 open 15 read 16 write 17 statfs 18 release 20 fsync 21 setxattr 22 getxattr "
                + "23 listxattr 24 removexattr 25 flush 27 opendir 28 readdir 29 releasedir 30 fsyncdir 31 getlk "
                + "32 setlk 33 setlkw 34 access 35 create 37 bmap 39 ioctl 40 poll 42 batch_forget 43 fallocate "
                + "44 readdirplus 45 rename2 46 lseek 47 copy_file_range 50 syncfs 51 tmpfile 52 statx "
                + "53 copy_file_range_64";
        String[] parts = all.split(" ");
        for (int i = 0; i < parts.length; i += 2) n[Integer.parseInt(parts[i])] = parts[i + 1];
        return n;
    }
}
