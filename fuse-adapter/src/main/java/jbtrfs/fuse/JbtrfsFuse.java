package jbtrfs.fuse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.kenai.jffi.MemoryIO;

import io.micrometer.core.instrument.MeterRegistry;
import jbtrfs.FsException;
import jbtrfs.fs.DirEntry;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;
import jbtrfs.fs.StatFs;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * jnr-fuse glue: each VFS call becomes one {@link FsOperations} call by inode. FUSE calls arrive on many threads;
 * the only state here is the path cache and the open handles, both concurrent maps. Every change is EROFS.
 */
public final class JbtrfsFuse extends FuseStubFS {
    private static final Logger LOG = LoggerFactory.getLogger(JbtrfsFuse.class);
    private static final int PATH_CACHE_MAX = 200_000;
    private static final int READDIR_PAGE = 512;
    private static final int O_ACCMODE = 3;
    private static final int O_TRUNC = 01000;
    /** The readdir offsets of "." and ".."; entries' own offsets (dir index + 1) start at 3. */
    private static final long DOT_OFFSET = 1;
    private static final long DOTDOT_OFFSET = 2;

    private final FsOperations ops;
    private final int blksize;
    private final ConcurrentHashMap<String, InodeId> paths = new ConcurrentHashMap<>();
    private final OpenFiles openFiles = new OpenFiles();
    private final FuseMetrics metrics;

    /** {@code blksize} is st_blksize (the kernel shows the sectorsize); meters go to {@code registry}. */
    public JbtrfsFuse(FsOperations ops, int blksize, MeterRegistry registry) {
        this.ops = ops;
        this.blksize = blksize;
        this.metrics = new FuseMetrics(registry);
    }

    /** A FUSE operation's body: returns the result, or throws what {@link ErrnoMapper} maps. */
    @FunctionalInterface
    private interface Body {
        int run() throws Exception;
    }

    /** Runs one operation: errors become errnos (logged when unexpected), and the call is metered. */
    private int call(String op, String path, Body body) {
        long start = System.nanoTime();
        int result;
        try {
            result = body.run();
        } catch (Exception e) {
            result = fail(op, path, e);
        }
        metrics.record(op, System.nanoTime() - start, result);
        return result;
    }

    @Override
    protected String getFSName() {
        return "jbtrfs";
    }

    private InodeId resolve(String path) throws FsException {
        InodeId id = paths.get(path);
        if (id != null) return id;
        id = ops.resolve(path);
        // the image cannot change under a read-only mount, so a resolution stays true
        if (paths.size() > PATH_CACHE_MAX) paths.clear();
        paths.put(path, id);
        return id;
    }

    private int fail(String op, String path, Throwable t) {
        int errno = ErrnoMapper.errno(t);
        if (!ErrnoMapper.expected(t)) {
            if (t instanceof FsException) {
                LOG.warn("{} {}: {}", op, path, t.getMessage());
            } else {
                LOG.error("{} {}: unexpected error", op, path, t);
            }
        }
        return errno;
    }

    @Override
    public int getattr(String path, FileStat stat) {
        return call("getattr", path, () -> {
            StatFiller.fill(ops.stat(resolve(path)), stat, blksize);
            return 0;
        });
    }

    @Override
    public int readlink(String path, Pointer buf, @size_t long size) {
        return call("readlink", path, () -> {
            byte[] target = ops.readlink(resolve(path)).getBytes(StandardCharsets.UTF_8);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        });
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        int flags = fi.flags.intValue();
        if ((flags & O_ACCMODE) != 0 || (flags & O_TRUNC) != 0) return -ErrorCodes.EROFS();
        return call("open", path, () -> {
            InodeId id = resolve(path);
            Stat st = ops.stat(id);
            if (st.isDirectory()) return -ErrorCodes.EISDIR();
            fi.fh.set(openFiles.open(id));
            return 0;
        });
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return call("read", path, () -> {
            InodeId id = openFiles.get(fi.fh.longValue());
            if (id == null) id = resolve(path);
            // a view of FUSE's own buffer: the device reads land where the kernel takes them from, no copy between
            ByteBuffer dst = MemoryIO.getInstance().newDirectByteBuffer(buf.address(), (int) size);
            int n = ops.read(id, offset, dst);
            metrics.bytesRead(n);
            return n;
        });
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        openFiles.release(fi.fh.longValue());
        return 0;
    }

    @Override
    public int opendir(String path, FuseFileInfo fi) {
        return call("opendir", path, () -> {
            if (!ops.stat(resolve(path)).isDirectory()) return -ErrorCodes.ENOTDIR();
            return 0;
        });
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        return call("readdir", path, () -> {
            InodeId dir = resolve(path);
            FileStat st = new FileStat(jnr.ffi.Runtime.getSystemRuntime());
            st.useMemory(jnr.ffi.Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), Struct.size(st)));
            if (offset < DOT_OFFSET) {
                if (filler.apply(buf, ".", null, DOT_OFFSET) != 0) return 0;
            }
            if (offset < DOTDOT_OFFSET) {
                if (filler.apply(buf, "..", null, DOTDOT_OFFSET) != 0) return 0;
            }
            long next = Math.max(offset, DOTDOT_OFFSET);
            while (true) {
                List<DirEntry> page = ops.readdir(dir, next, READDIR_PAGE);
                if (page.isEmpty()) return 0;
                for (DirEntry d : page) {
                    st.st_ino.set(d.id().objectid());
                    st.st_mode.set(direntMode(d.type()));
                    if (filler.apply(buf, d.name(), st, d.offset()) != 0) return 0;
                    next = d.offset();
                }
            }
        });
    }

    /** The S_IFMT bits of a dirent type, so readdir carries the type. */
    private static int direntMode(int dtype) {
        return dtype << 12;
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        return call("statfs", path, () -> {
            StatFs s = ops.statfs();
            stbuf.f_bsize.set(s.blockSize());
            stbuf.f_frsize.set(s.blockSize());
            stbuf.f_blocks.set(s.blocks());
            stbuf.f_bfree.set(s.blocksFree());
            stbuf.f_bavail.set(s.blocksAvailable());
            stbuf.f_files.set(s.files());
            stbuf.f_ffree.set(s.filesFree());
            stbuf.f_namemax.set(s.nameMax());
            return 0;
        });
    }

    @Override
    public int getxattr(String path, String name, Pointer value, @size_t long size) {
        return call("getxattr", path, () -> {
            byte[] v = ops.getXattr(resolve(path), name);
            if (size == 0) return v.length;
            if (size < v.length) return -ErrorCodes.ERANGE();
            value.put(0, v, 0, v.length);
            return v.length;
        });
    }

    @Override
    public int listxattr(String path, Pointer list, @size_t long size) {
        return call("listxattr", path, () -> {
            List<String> names = ops.listXattr(resolve(path));
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            for (String n : names) {
                out.writeBytes(n.getBytes(StandardCharsets.UTF_8));
                out.write(0);
            }
            byte[] all = out.toByteArray();
            if (size == 0) return all.length;
            if (size < all.length) return -ErrorCodes.ERANGE();
            list.put(0, all, 0, all.length);
            return all.length;
        });
    }

    @Override
    public int access(String path, int mask) {
        return call("access", path, () -> {
            resolve(path);
            return 0;
        });
    }

    // Every change is refused: the mount is read-only.

    @Override
    public int mknod(String path, long mode, long rdev) { return -ErrorCodes.EROFS(); }

    @Override
    public int mkdir(String path, long mode) { return -ErrorCodes.EROFS(); }

    @Override
    public int unlink(String path) { return -ErrorCodes.EROFS(); }

    @Override
    public int rmdir(String path) { return -ErrorCodes.EROFS(); }

    @Override
    public int symlink(String oldpath, String newpath) { return -ErrorCodes.EROFS(); }

    @Override
    public int rename(String oldpath, String newpath) { return -ErrorCodes.EROFS(); }

    @Override
    public int link(String oldpath, String newpath) { return -ErrorCodes.EROFS(); }

    @Override
    public int chmod(String path, long mode) { return -ErrorCodes.EROFS(); }

    @Override
    public int chown(String path, long uid, long gid) { return -ErrorCodes.EROFS(); }

    @Override
    public int truncate(String path, long size) { return -ErrorCodes.EROFS(); }

    @Override
    public int write(String path, Pointer buf, long size, long offset, FuseFileInfo fi) { return -ErrorCodes.EROFS(); }

    @Override
    public int create(String path, long mode, FuseFileInfo fi) { return -ErrorCodes.EROFS(); }

    @Override
    public int ftruncate(String path, long size, FuseFileInfo fi) { return -ErrorCodes.EROFS(); }

    @Override
    public int utimens(String path, Timespec[] timespec) { return -ErrorCodes.EROFS(); }

    @Override
    public int setxattr(String path, String name, Pointer value, long size, int flags) { return -ErrorCodes.EROFS(); }

    @Override
    public int removexattr(String path, String name) { return -ErrorCodes.EROFS(); }

    @Override
    public int fallocate(String path, int mode, long off, long length, FuseFileInfo fi) { return -ErrorCodes.EROFS(); }
}
