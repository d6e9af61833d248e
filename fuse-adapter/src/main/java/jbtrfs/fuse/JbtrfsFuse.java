package jbtrfs.fuse;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.kenai.jffi.MemoryIO;

import io.micrometer.core.instrument.MeterRegistry;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.fs.DirEntry;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeFlags;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.types.dev_t;
import jnr.ffi.types.gid_t;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.uid_t;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * jnr-fuse glue: each VFS call becomes one {@link FsOperations} call by inode. FUSE calls arrive on many threads;
 * the only state here is the path cache ({@link PathCache}) and the open handles, both concurrent. On a read-only mount every
 * change is EROFS (fs-core's answer).
 */
public final class JbtrfsFuse extends FuseStubFS {
    /** _IOR('f', 1, long), _IOW('f', 2, long) and their 32-bit forms (include/uapi/linux/fs.h). */
    private static final int FS_IOC_GETFLAGS = 0x80086601;
    private static final int FS_IOC_SETFLAGS = 0x40086602;
    private static final int FS_IOC32_GETFLAGS = 0x80046601;
    private static final int FS_IOC32_SETFLAGS = 0x40046602;
    /** struct fuse_conn_info (libfuse 2.9): offsets of capable and want, and the bit for directory ioctls. */
    private static final int CONN_CAPABLE = 20;
    private static final int CONN_WANT = 24;
    private static final int FUSE_CAP_IOCTL_DIR = 1 << 11;
    /** _IOR('X', 31, struct fsxattr), 28 bytes. */
    private static final int FS_IOC_FSGETXATTR = 0x801c581f;
    private static final int FS_IOC_FSSETXATTR = 0x401c5820;
    private static final int FSXATTR_SIZE = 28;
    private static final Logger LOG = LoggerFactory.getLogger(JbtrfsFuse.class);
    private static final int READDIR_PAGE = 512;
    /** The readdir offsets of "." and ".."; entries' own offsets (dir index + 1) start at 3. */
    private static final long DOT_OFFSET = 1;
    private static final long DOTDOT_OFFSET = 2;
    private static final long UTIME_NOW = (1L << 30) - 1;
    private static final long UTIME_OMIT = (1L << 30) - 2;

    private final FsOperations ops;
    private final int blksize;
    private final PathCache paths;
    private final OpenFiles openFiles = new OpenFiles();
    private final FuseMetrics metrics;

    /** {@code blksize} is st_blksize (the kernel shows the sectorsize); meters go to {@code registry}. */
    public JbtrfsFuse(FsOperations ops, int blksize, MeterRegistry registry) {
        this.ops = ops;
        this.paths = new PathCache(ops);
        this.blksize = blksize;
        this.metrics = new FuseMetrics(registry);
    }

    /** A FUSE operation's body: returns the result, or throws what {@link ErrnoMapper} maps. */
    @FunctionalInterface
    private interface Body {
        int run() throws Exception;
    }

    /** The fuse_operations table libfuse calls, for {@link FuseSession}, with flag_utime_omit_ok set. */
    Struct nativeOperations() { return FuseOperationsFlags.setUtimeOmitOk(fuseOperations); }

    /** Runs one operation: errors become errnos (logged when unexpected), and the call is metered. */
    private int call(String op, String path, Body body) {
        long start = System.nanoTime();
        int result;
        try {
            result = body.run();
        } catch (Throwable e) {
            // nothing may escape into libfuse: an exception there would leave the request without its errno
            result = ErrnoMapper.reply(LOG, op, path, e);
        }
        metrics.record(op, System.nanoTime() - start, result);
        return result;
    }

    @Override
    protected String getFSName() {
        return "jbtrfs";
    }

    @Override
    public int getattr(String path, FileStat stat) {
        return call("getattr", path, () -> {
            StatFiller.fill(ops.stat(paths.resolve(path)), stat, blksize);
            return 0;
        });
    }

    @Override
    public int readlink(String path, Pointer buf, @size_t long size) {
        return call("readlink", path, () -> {
            byte[] target = ops.readlink(paths.resolve(path)).getBytes(StandardCharsets.UTF_8);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        });
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        return call("open", path, () -> {
            InodeId id = paths.resolve(path);
            ops.open(id, fi.flags.intValue());
            fi.fh.set(openFiles.open(id));
            return 0;
        });
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return call("read", path, () -> {
            InodeId id = openFiles.get(fi.fh.longValue());
            if (id == null) id = paths.resolve(path);
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
            ops.opendir(paths.resolve(path));
            return 0;
        });
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        return call("readdir", path, () -> {
            InodeId dir = paths.resolve(path);
            // one stat buffer for the whole page: the filler reads st_ino and the type bits of st_mode, and copies
            FileStat st = new FileStat(jnr.ffi.Runtime.getSystemRuntime());
            Pointer stMem = Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), Struct.size(st), true);
            st.useMemory(stMem);
            if (offset < DOT_OFFSET) {
                if (filler.apply(buf, cName("."), null, DOT_OFFSET) != 0) return 0;
            }
            if (offset < DOTDOT_OFFSET) {
                if (filler.apply(buf, cName(".."), null, DOTDOT_OFFSET) != 0) return 0;
            }
            long next = Math.max(offset, DOTDOT_OFFSET);
            while (true) {
                List<DirEntry> page = ops.readdir(dir, next, READDIR_PAGE);
                if (page.isEmpty()) return 0;
                for (DirEntry d : page) {
                    st.st_ino.set(d.id().objectid());
                    st.st_mode.set(direntMode(d.type()));
                    // non-zero offsets: libfuse hands each page straight to the kernel, which asks again from the
                    // last offset it took, so a directory of any size lists completely without being held here
                    if (filler.apply(buf, cName(d.name()), stMem, d.offset()) != 0) return 0;
                    next = d.offset();
                }
            }
        });
    }

    /** A name as the filler wants it: UTF-8 and NUL-terminated, whatever the JVM's default charset. */
    private static ByteBuffer cName(String name) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.wrap(Arrays.copyOf(b, b.length + 1));
    }

    /** The S_IFMT bits of a dirent type, so readdir carries the type. */
    private static int direntMode(int dtype) {
        return dtype << 12;
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        return call("statfs", path, () -> {
            StatFiller.fill(ops.statfs(), stbuf);
            return 0;
        });
    }

    @Override
    public int getxattr(String path, String name, Pointer value, @size_t long size) {
        return call("getxattr", path, () -> {
            byte[] v = ops.getXattr(paths.resolve(path), name);
            if (size == 0) return v.length;
            // the caller's buffer, which only the transport knows, is too small: getxattr(2)'s answer
            if (size < v.length) return -Errno.ERANGE.number();
            value.put(0, v, 0, v.length);
            return v.length;
        });
    }

    @Override
    public int listxattr(String path, Pointer list, @size_t long size) {
        return call("listxattr", path, () -> {
            List<String> names = ops.listXattr(paths.resolve(path));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (String n : names) {
                out.writeBytes(n.getBytes(StandardCharsets.UTF_8));
                out.write(0);
            }
            byte[] all = out.toByteArray();
            if (size == 0) return all.length;
            if (size < all.length) return -Errno.ERANGE.number();
            list.put(0, all, 0, all.length);
            return all.length;
        });
    }

    @Override
    public int access(String path, int mask) {
        return call("access", path, () -> {
            paths.resolve(path);
            return 0;
        });
    }

    // ---- changes: each one resolves its paths, calls fs-core, and forgets the cached paths it made stale ----

    private int uid() { return (int) getContext().uid.get(); }

    private int gid() { return (int) getContext().gid.get(); }

    /** Makes or removes the name {@code path} in its parent directory; the path cache forgets it. */
    private int nameChange(String op, String path, NameChange change) {
        return call(op, path, () -> {
            PathCache.Parent p = paths.parent(path);
            change.apply(p.dir(), p.name());
            paths.forgetName(path);
            return 0;
        });
    }

    /** What {@link #nameChange} does to one name in one directory. */
    @FunctionalInterface
    private interface NameChange {
        void apply(InodeId dir, String name) throws Exception;
    }

    @Override
    public int create(String path, @mode_t long mode, FuseFileInfo fi) {
        return call("create", path, () -> {
            PathCache.Parent p = paths.parent(path);
            int m = (int) mode;
            if ((m & Stat.S_IFMT) == 0) m |= Stat.S_IFREG;
            InodeId id = ops.mknod(p.dir(), p.name(), m, 0, uid(), gid());
            paths.forgetName(path);
            fi.fh.set(openFiles.open(id));
            return 0;
        });
    }

    @Override
    public int mknod(String path, @mode_t long mode, @dev_t long rdev) {
        return nameChange("mknod", path, (dir, name) -> ops.mknod(dir, name, (int) mode, rdev, uid(), gid()));
    }

    @Override
    public int mkdir(String path, @mode_t long mode) {
        return nameChange("mkdir", path, (dir, name) -> ops.mkdir(dir, name, (int) mode & 07777, uid(), gid()));
    }

    @Override
    public int symlink(String target, String linkPath) {
        return nameChange("symlink", linkPath, (dir, name) -> ops.symlink(dir, name, target, uid(), gid()));
    }

    @Override
    public int link(String oldpath, String newpath) {
        return nameChange("link", newpath, (dir, name) -> ops.link(paths.resolve(oldpath), dir, name));
    }

    @Override
    public int unlink(String path) {
        return nameChange("unlink", path, ops::unlink);
    }

    @Override
    public int rmdir(String path) {
        return nameChange("rmdir", path, ops::rmdir);
    }

    @Override
    public int rename(String oldpath, String newpath) {
        return call("rename", oldpath, () -> {
            PathCache.Parent from = paths.parent(oldpath);
            PathCache.Parent to = paths.parent(newpath);
            ops.rename(from.dir(), from.name(), to.dir(), to.name(), 0);
            paths.forget(oldpath);
            paths.forget(newpath);
            return 0;
        });
    }

    @Override
    public int chmod(String path, @mode_t long mode) {
        return call("chmod", path, () -> {
            ops.chmod(paths.resolve(path), (int) mode & 07777);
            return 0;
        });
    }

    @Override
    public int chown(String path, @uid_t long uid, @gid_t long gid) {
        return call("chown", path, () -> {
            // the kernel passes (u32)-1 for "leave as it is"
            ops.chown(paths.resolve(path), (uid & 0xffffffffL) == 0xffffffffL ? -1 : (int) uid,
                    (gid & 0xffffffffL) == 0xffffffffL ? -1 : (int) gid);
            return 0;
        });
    }

    @Override
    public int truncate(String path, @off_t long size) {
        return call("truncate", path, () -> {
            ops.truncate(paths.resolve(path), size);
            return 0;
        });
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        return call("ftruncate", path, () -> {
            ops.truncate(handle(path, fi), size);
            return 0;
        });
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        return call("utimens", path, () -> {
            ops.utimens(paths.resolve(path), time(timespec[0]), time(timespec[1]));
            return 0;
        });
    }

    /** UTIME_NOW is the time of the change, UTIME_OMIT (null) leaves the time as it is. */
    private static jbtrfs.format.Timespec time(Timespec t) {
        long nsec = t.tv_nsec.longValue();
        if (nsec == UTIME_OMIT) return null;
        if (nsec == UTIME_NOW) return jbtrfs.format.Timespec.NOW;
        return new jbtrfs.format.Timespec(t.tv_sec.get(), (int) nsec);
    }

    @Override
    public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return call("write", path, () -> {
            ByteBuffer src = MemoryIO.getInstance().newDirectByteBuffer(buf.address(), (int) size);
            int n = ops.write(handle(path, fi), offset, src);
            metrics.bytesWritten(n);
            return n;
        });
    }

    @Override
    public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
        return call("setxattr", path, () -> {
            byte[] v = new byte[(int) size];
            value.get(0, v, 0, v.length);
            ops.setXattr(paths.resolve(path), name, v, flags);
            return 0;
        });
    }

    @Override
    public int removexattr(String path, String name) {
        return call("removexattr", path, () -> {
            ops.removeXattr(paths.resolve(path), name);
            return 0;
        });
    }

    @Override
    public int fallocate(String path, int mode, @off_t long off, @off_t long length, FuseFileInfo fi) {
        return call("fallocate", path, () -> {
            ops.fallocate(handle(path, fi), mode, off, length);
            return 0;
        });
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        return call("fsync", path, () -> {
            ops.fsync(handle(path, fi), isdatasync != 0);
            return 0;
        });
    }

    @Override
    public int fsyncdir(String path, FuseFileInfo fi) {
        return call("fsyncdir", path, () -> {
            ops.fsync(paths.resolve(path), false);
            return 0;
        });
    }

    @Override
    public int flush(String path, FuseFileInfo fi) {
        return 0;
    }

    /**
     * Asks the kernel to pass on ioctls of directories too (FUSE_CAP_IOCTL_DIR in libfuse 2's fuse_conn_info
     * {@code want}), so lsattr -d and chattr work on them.
     */
    @Override
    public Pointer init(Pointer conn) {
        if (conn != null && (conn.getInt(CONN_CAPABLE) & FUSE_CAP_IOCTL_DIR) != 0) {
            conn.putInt(CONN_WANT, conn.getInt(CONN_WANT) | FUSE_CAP_IOCTL_DIR);
        }
        return null;
    }

    /**
     * lsattr and chattr: FS_IOC_GETFLAGS and FS_IOC_SETFLAGS (an int each way, whatever size the command says),
     * and FS_IOC_FSGETXATTR, which the kernel asks before it sets flags; FS_IOC_FSSETXATTR (xfs_io chattr) for the
     * flags struct fsxattr shares with them.
     */
    @Override
    public int ioctl(String path, int cmd, Pointer arg, FuseFileInfo fi, long flags, Pointer data) {
        return call("ioctl", path, () -> {
            if (cmd == FS_IOC_GETFLAGS || cmd == FS_IOC32_GETFLAGS) {
                data.putInt(0, (int) ops.fileFlags(handle(path, fi)));
                return 0;
            }
            if (cmd == FS_IOC_FSGETXATTR) {
                // struct fsxattr: the kernel reads it before any chattr; only fsx_xflags is not zero
                data.putInt(0, (int) InodeFlags.toXflags(ops.fileFlags(handle(path, fi))));
                for (int at = 4; at < FSXATTR_SIZE; at += 4) data.putInt(at, 0);
                return 0;
            }
            if (cmd == FS_IOC_SETFLAGS || cmd == FS_IOC32_SETFLAGS) {
                InodeId id = handle(path, fi);
                return setFileFlags(id, data.getInt(0) & 0xffffffffL);
            }
            if (cmd == FS_IOC_FSSETXATTR) {
                // struct fsxattr: fsx_xflags, fsx_extsize, fsx_nextents, fsx_projid, fsx_cowextsize (u32 each)
                InodeId id = handle(path, fi);
                return setFileFlags(id, InodeFlags.fromXflags(ops.fileFlags(id), data.getInt(0) & 0xffffffffL,
                        data.getInt(4), data.getInt(12), data.getInt(16)));
            }
            // a command this transport does not decode
            return -Errno.ENOTTY.number();
        });
    }

    private int setFileFlags(InodeId id, long want) throws FsException {
        ops.setFileFlags(id, want, uid());
        return 0;
    }

    private InodeId handle(String path, FuseFileInfo fi) throws FsException {
        InodeId id = fi == null ? null : openFiles.get(fi.fh.longValue());
        return id != null ? id : paths.resolve(path);
    }
}
