package jbtrfs.fuse.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeFlags;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.fs.StatFs;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseConnection;
import jbtrfs.fuse.kernel.FuseNotifier;
import jbtrfs.testing.Images;

/**
 * The node layer's requests one by one over a read-write filesystem on an image mkfs.btrfs made: each reply against
 * what fs-core then holds. Skips (saying why) without mkfs.btrfs.
 */
class NodeRequestsTest {
    private static final int S_IFREG = 0100000;
    private static final int S_IFIFO = 0010000;
    private static final long ROOT = NodeIds.ROOT_ID;

    @TempDir
    Path tmp;
    private Filesystem fs;
    private FsOperations ops;
    private NodeHandler handler;
    private KernelSide k;

    @BeforeEach
    void mount() throws Exception {
        fs = Filesystem.open(Images.mkfs(tmp, null, 256), MountOptions.readWriteDefaults());
        ops = fs.operations();
        handler = new NodeHandler(ops, 4096, NodeOptions.defaults(), new SimpleMeterRegistry());
        k = new KernelSide(handler);
    }

    @AfterEach
    void unmount() throws Exception {
        handler.destroy();
        fs.close();
    }

    private Stat stat(String name) throws Exception {
        return ops.stat(ops.lookup(ops.root(), name));
    }

    /** fuse_setattr_in with the fields SETATTR reads. */
    private KernelSide.Attr setattr(long node, int valid, long size, long atime, long mtime, int nsec, int mode,
                                    int uid, int gid) throws Exception {
        ByteBuffer b = k.send(FuseAbi.SETATTR, node, FakeRequest.body().u32(valid).u32(0).u64(0).u64(size).u64(0)
                .u64(atime).u64(mtime).u64(0).u32(nsec).u32(nsec).u32(0).u32(mode).u32(0).u32(uid).u32(gid).u32(0))
                .payload();
        b.position(16);
        return KernelSide.Attr.decode(b);
    }

    @Test
    void setattr_changesModeOwnerSizeAndTimes_asAsked() throws Exception {
        long f = k.create(ROOT, "f", S_IFREG | 0644).entry().nodeId();
        KernelSide.Attr a = setattr(f, FileRequests.FATTR_MODE | FileRequests.FATTR_UID | FileRequests.FATTR_GID, 0,
                0, 0, 0, 0600, 1000, 100);
        assertEquals(S_IFREG | 0600, a.mode());
        assertEquals(1000, a.uid());
        assertEquals(100, a.gid());
        a = setattr(f, FileRequests.FATTR_SIZE, 12345, 0, 0, 0, 0, 0, 0);
        assertEquals(12345, a.size());
        assertEquals(12345, stat("f").size());
        a = setattr(f, FileRequests.FATTR_ATIME | FileRequests.FATTR_MTIME, 0, 1_000_000, 2_000_000, 123, 0, 0, 0);
        assertEquals(1_000_000, a.atime());
        assertEquals(2_000_000, a.mtime());
        assertEquals(123, a.mtimensec());
        assertEquals(2_000_000, stat("f").mtime().sec());
        long before = System.currentTimeMillis() / 1000;
        a = setattr(f, FileRequests.FATTR_MTIME | FileRequests.FATTR_MTIME_NOW, 0, 0, 7, 0, 0, 0, 0);
        assertTrue(a.mtime() >= before, "UTIME_NOW is the time of the change, not the 7 sent beside it");
        assertEquals(1_000_000, a.atime(), "atime left as it was");
        assertEquals(a, k.getattr(f));
    }

    @Test
    void chownWithKillSuidSgid_clearsWhatTheKernelsChownClears_onEveryTypeButDirectories() throws Exception {
        int chown = FileRequests.FATTR_UID | FileRequests.FATTR_GID | FileRequests.FATTR_KILL_SUIDGID;
        long fifo = KernelSide.Entry.decode(k.send(FuseAbi.MKNOD, ROOT, FakeRequest.body()
                .u32(S_IFIFO | 06555).u32(0).u32(0).u32(0).name("p")).payload()).nodeId();
        assertEquals(S_IFIFO | 0555, setattr(fifo, chown, 0, 0, 0, 0, 0, 65534, 65532).mode(), "pjdfstest chown/00");
        // set-group-ID without group execute marks mandatory locking, not privilege: it stays
        long f = k.create(ROOT, "f", S_IFREG | 06644).entry().nodeId();
        assertEquals(S_IFREG | 02644, setattr(f, chown, 0, 0, 0, 0, 0, 1000, 100).mode());
        long d = KernelSide.Entry.decode(k.send(FuseAbi.MKDIR, ROOT, FakeRequest.body().u32(06755).u32(0)
                .name("d")).payload()).nodeId();
        assertEquals(06755, setattr(d, chown, 0, 0, 0, 0, 0, 1000, 100).mode() & 07777);
        // without a new owner it is the rule of a write: regular files only
        assertEquals(S_IFIFO | 06555, setattr(fifo, FileRequests.FATTR_MODE, 0, 0, 0, 0, 06555, 0, 0).mode());
        assertEquals(S_IFIFO | 06555, setattr(fifo, FileRequests.FATTR_KILL_SUIDGID, 0, 0, 0, 0, 0, 0, 0).mode());
        // chown(p, -1, -1) sets no field and asks for nothing, yet clears what a chown clears
        assertEquals(S_IFIFO | 0555, setattr(fifo, 0, 0, 0, 0, 0, 0, 0, 0).mode());
        assertEquals(06755, setattr(d, 0, 0, 0, 0, 0, 0, 0, 0).mode() & 07777);
    }

    @Test
    void setattr_timesOfAKernelKeepingThemItself_areStoredAsSent_andATouchIsAllowedOnAppendOnly() throws Exception {
        long f = k.create(ROOT, "f", S_IFREG | 0644).entry().nodeId();
        int kernel = FileRequests.FATTR_ATIME | FileRequests.FATTR_MTIME | FileRequests.FATTR_CTIME;
        KernelSide.Attr a = attr(k.send(FuseAbi.SETATTR, f, setattrBody(kernel, 1_000, 2_000, 3_000, 7)).payload());
        assertEquals(List.of(1_000L, 2_000L, 3_000L, 7), List.of(a.atime(), a.mtime(), a.ctime(), a.ctimensec()));
        a = attr(k.send(FuseAbi.SETATTR, f, setattrBody(FileRequests.FATTR_UID | FileRequests.FATTR_CTIME, 0, 0,
                4_000, 9)).payload());
        assertEquals(4_000, a.ctime(), "chown: the kernel's ctime, not the daemon's");
        assertEquals(0, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_APPEND_FL), 0).errno());
        assertEquals(1, k.send(FuseAbi.SETATTR, f, setattrBody(kernel, 5_000, 5_000, 5_000, 0)).errno(),
                "EPERM: explicit times on an append-only file (touch -d)");
        a = attr(k.send(FuseAbi.SETATTR, f, setattrBody(kernel | FileRequests.FATTR_ATIME_NOW, 0, 6_000, 6_000, 0))
                .payload());
        assertEquals(List.of(6_000L, 6_000L, 6_000L), List.of(a.atime(), a.mtime(), a.ctime()),
                "touch: the kernel's clock for mtime and ctime, and for atime's NOW");
    }

    private static KernelSide.Attr attr(ByteBuffer attrOut) {
        attrOut.position(16);
        return KernelSide.Attr.decode(attrOut);
    }

    /** fuse_setattr_in with times and uid 0. */
    private static FakeRequest.Body setattrBody(int valid, long atime, long mtime, long ctime, int ctimensec) {
        return FakeRequest.body().u32(valid).u32(0).u64(0).u64(0).u64(0).u64(atime).u64(mtime).u64(ctime).u32(0)
                .u32(0).u32(ctimensec).u32(0).u32(0).u32(0).u32(0).u32(0);
    }

    @Test
    void xattrs_setGetListRemove_withSizeProbes() throws Exception {
        long f = k.create(ROOT, "f", S_IFREG | 0644).entry().nodeId();
        byte[] value = "value".getBytes(StandardCharsets.UTF_8);
        FakeRequest.Body set = FakeRequest.body().u32(value.length).u32(0).name("user.a").bytes(value);
        assertEquals(0, k.send(FuseAbi.SETXATTR, f, set).errno());
        FakeRequest.Body create = FakeRequest.body().u32(value.length).u32(FsOperations.XATTR_CREATE).name("user.a")
                .bytes(value);
        assertEquals(17, k.send(FuseAbi.SETXATTR, f, create).errno(), "XATTR_CREATE of an existing name");
        assertEquals(5, k.send(FuseAbi.GETXATTR, f, FakeRequest.body().u32(0).u32(0).name("user.a")).payload()
                .getInt());
        assertEquals(34, k.send(FuseAbi.GETXATTR, f, FakeRequest.body().u32(2).u32(0).name("user.a")).errno());
        assertEquals("value", text(k.send(FuseAbi.GETXATTR, f, FakeRequest.body().u32(100).u32(0)
                .name("user.a")).payload()));
        assertEquals(7, k.send(FuseAbi.LISTXATTR, f, FakeRequest.body().u32(0).u32(0)).payload().getInt());
        assertEquals("user.a\0", text(k.send(FuseAbi.LISTXATTR, f, FakeRequest.body().u32(64).u32(0)).payload()));
        assertEquals(0, k.send(FuseAbi.REMOVEXATTR, f, FakeRequest.body().name("user.a")).errno());
        assertEquals(61, k.send(FuseAbi.GETXATTR, f, FakeRequest.body().u32(0).u32(0).name("user.a")).errno());
    }

    private static String text(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return new String(out, StandardCharsets.UTF_8);
    }

    private FakeRequest ioctl(long node, int cmd, int inSize, int outSize, byte[] in, int uid) throws Exception {
        FakeRequest.Body body = FakeRequest.body().u64(0).u32(0).u32(cmd).u64(0).u32(inSize).u32(outSize).bytes(in);
        return k.send(new FakeRequest(FuseAbi.IOCTL, node, body).asUser(uid));
    }

    private static byte[] le32(long v) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt((int) v).array();
    }

    /** Connects the handler with {@code flags} granted; what it notifies lands in the list returned. */
    private List<String> connect(int minor, long flags) {
        List<String> sent = Collections.synchronizedList(new ArrayList<>());
        handler.init(new FuseConnection(minor, flags, 1 << 20, 256), new FuseNotifier() {
            @Override
            public void invalInode(long nodeId, long offset, long length) {
                sent.add("inode " + nodeId + " " + offset + " " + length);
            }

            @Override
            public void invalEntry(long parent, byte[] name) {
                sent.add("entry " + parent + " " + new String(name, StandardCharsets.UTF_8));
            }

            @Override
            public void prune(long nodeId) {
                sent.add("prune " + nodeId);
            }
        });
        return sent;
    }

    @Test
    void ioctl_getsAndSetsFlags_asChattrDoes_andDropsTheKernelsAttributes() throws Exception {
        List<String> sent = connect(45, 0);
        long f = k.create(ROOT, "f", S_IFREG | 0644).entry().nodeId();
        assertEquals(0, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_NODUMP_FL), 0).errno());
        assertEquals(List.of("inode " + f + " -1 0"), sent, "chattr changed ctime, which the kernel does not know");
        ByteBuffer got = ioctl(f, IoctlRequests.FS_IOC_GETFLAGS, 0, 8, new byte[0], 0).payload();
        assertEquals(0, got.getInt(), "fuse_ioctl_out.result");
        got.position(16);
        assertEquals(InodeFlags.FS_NODUMP_FL, got.getInt());
        ByteBuffer got32 = ioctl(f, IoctlRequests.FS_IOC32_GETFLAGS, 0, 4, new byte[0], 0).payload();
        assertEquals(InodeFlags.FS_NODUMP_FL, got32.getInt(16));
        ByteBuffer x = ioctl(f, IoctlRequests.FS_IOC_FSGETXATTR, 0, 28, new byte[0], 0).payload();
        assertEquals(16 + 28, x.remaining());
        assertEquals(InodeFlags.toXflags(InodeFlags.FS_NODUMP_FL), x.getInt(16) & 0xffffffffL);
        assertEquals(1, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_IMMUTABLE_FL), 1000)
                .errno(), "EPERM: +i takes CAP_LINUX_IMMUTABLE");
        assertEquals(25, ioctl(f, 0x1234, 0, 0, new byte[0], 0).errno(), "ENOTTY");
        assertEquals(InodeFlags.FS_NODUMP_FL, ops.fileFlags(ops.lookup(ops.root(), "f")));
    }

    @Test
    void chattrOfRegularFile_withWritebackCaching_dropsItsNames_andALookupWaitsForItsLastRelease() throws Exception {
        // the kernel keeps a cached regular file's ctime and takes none from a reply: only a fresh inode shows ours
        List<String> sent = connect(45, FuseAbi.WRITEBACK_CACHE);
        KernelSide.Created c = k.create(ROOT, "f", S_IFREG | 0644);
        long f = c.entry().nodeId();
        KernelSide.Entry d = KernelSide.Entry.decode(k.send(FuseAbi.MKDIR, ROOT, FakeRequest.body().u32(0755)
                .u32(022).name("d")).payload());
        assertEquals(0, k.send(FuseAbi.LINK, d.nodeId(), FakeRequest.body().u64(f).name("g")).errno());
        assertEquals(0, k.send(FuseAbi.LINK, ROOT, FakeRequest.body().u64(f).name("h")).errno());
        long second = k.open(f, 0);
        assertEquals(0, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_NODUMP_FL), 0).errno());
        assertEquals(List.of("inode " + f + " -1 0", "entry 1 f", "entry 1 h", "entry " + d.nodeId() + " g"), sent,
                "every name invalidated before the reply, so that the next path walk asks LOOKUP");
        assertEquals(0, ioctl(d.nodeId(), IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_NODUMP_FL), 0)
                .errno());
        assertEquals("inode " + d.nodeId() + " -1 0", sent.get(sent.size() - 1),
                "a directory's ctime reaches the kernel in replies");
        k.release(f, second);
        CompletableFuture<KernelSide.Entry> lookup = CompletableFuture.supplyAsync(() -> {
            try {
                return k.lookup(ROOT, "h");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        assertTrue(!lookup.isDone(), "a LOOKUP of the file waits while the kernel's old inode is open");
        k.release(f, c.fh());
        assertEquals(f, lookup.get(5, TimeUnit.SECONDS).nodeId());
        assertEquals("prune " + f, sent.get(sent.size() - 1), "an unused dentry left would keep the old inode");
        int count = sent.size();
        // once only, and not without writeback caching or before protocol 7.45
        long again = k.open(f, 0);
        k.release(f, again);
        assertEquals(count, sent.size());
        for (long[] minorAndFlags : new long[][] {{45, 0}, {44, FuseAbi.WRITEBACK_CACHE}}) {
            List<String> other = connect((int) minorAndFlags[0], minorAndFlags[1]);
            long fh = k.open(f, 0);
            assertEquals(0, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(0), 0).errno());
            k.release(f, fh);
            assertEquals(List.of("inode " + f + " -1 0"), other);
        }
    }

    @Test
    void namesMadeHere_countEachNodeOnce_andDotsFindItAgain() throws Exception {
        KernelSide.Entry dir = KernelSide.Entry.decode(k.send(FuseAbi.MKDIR, ROOT, FakeRequest.body().u32(0755)
                .u32(022).name("d")).payload());
        KernelSide.Entry fifo = KernelSide.Entry.decode(k.send(FuseAbi.MKNOD, dir.nodeId(), FakeRequest.body()
                .u32(S_IFIFO | 0600).u32(0).u32(022).u32(0).name("p")).payload());
        KernelSide.Entry link = KernelSide.Entry.decode(k.send(FuseAbi.SYMLINK, dir.nodeId(), FakeRequest.body()
                .name("l").name("../target")).payload());
        KernelSide.Entry hard = KernelSide.Entry.decode(k.send(FuseAbi.LINK, ROOT, FakeRequest.body()
                .u64(fifo.nodeId()).name("p2")).payload());
        assertEquals(0040755, dir.attr().mode());
        assertEquals(S_IFIFO | 0600, fifo.attr().mode());
        assertEquals(fifo.nodeId(), hard.nodeId());
        assertEquals(2, hard.attr().nlink());
        assertEquals("../target", text(k.send(FuseAbi.READLINK, link.nodeId(), FakeRequest.body()).payload()));
        assertEquals(3, handler.nodeCount());
        assertEquals(dir.nodeId(), k.lookup(dir.nodeId(), ".").nodeId(), "\".\": the node itself (file handles)");
        assertEquals(ROOT, k.lookup(dir.nodeId(), "..").nodeId(), "\"..\": where it was made");
        assertEquals(stat("d").ino(), dir.attr().ino());
        assertEquals(0, k.send(FuseAbi.UNLINK, ROOT, FakeRequest.body().name("p2")).errno());
        assertEquals(39, k.send(FuseAbi.RMDIR, ROOT, FakeRequest.body().name("d")).errno(), "ENOTEMPTY");
        assertEquals(1, k.getattr(fifo.nodeId()).nlink());
    }

    @Test
    void openWithTrunc_emptiesTheFile_andAnImmutableFileOpensForReadingOnly() throws Exception {
        KernelSide.Created c = k.create(ROOT, "f", S_IFREG | 0644);
        long f = c.entry().nodeId();
        k.write(f, c.fh(), 0, new byte[10_000]);
        k.release(f, c.fh());
        k.release(f, k.open(f, 02 | FileRequests.O_TRUNC));
        assertEquals(0, k.getattr(f).size());
        assertEquals(0, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_IMMUTABLE_FL), 0).errno());
        assertEquals(1, k.send(FuseAbi.OPEN, f, FakeRequest.body().u32(02).u32(0)).errno(), "EPERM");
        k.release(f, k.open(f, 0));
        assertEquals(0, handler.nodeCount() - 1, "only f, whose handles are all released");
    }

    @Test
    void writeBackOfAnAppendOnlyFile_writesWhatLiesPastTheEnd_whileAWriteInsideIsRefused() throws Exception {
        KernelSide.Created c = k.create(ROOT, "f", S_IFREG | 0644);
        long f = c.entry().nodeId();
        k.write(f, c.fh(), 0, "ab".getBytes(StandardCharsets.UTF_8));
        assertEquals(0, ioctl(f, IoctlRequests.FS_IOC_SETFLAGS, 8, 0, le32(InodeFlags.FS_APPEND_FL), 0).errno());
        byte[] page = "abcd".getBytes(StandardCharsets.UTF_8);
        assertEquals(1, k.send(FuseAbi.WRITE, f, writeBody(c.fh(), 0, page, 0)).errno(), "EPERM: a write inside");
        FakeRequest back = k.send(FuseAbi.WRITE, f, writeBody(c.fh(), 0, page, FileRequests.FUSE_WRITE_CACHE));
        assertEquals(4, back.payload().getInt(), "the whole cached page answered as written");
        assertEquals("abcd", new String(k.read(f, c.fh(), 0, 100), StandardCharsets.UTF_8));
        k.release(f, c.fh());
    }

    private static FakeRequest.Body writeBody(long fh, long offset, byte[] data, int writeFlags) {
        return FakeRequest.body().u64(fh).u64(offset).u32(data.length).u32(writeFlags).u64(0).u32(0).u32(0)
                .bytes(data);
    }

    private FakeRequest lseek(long node, long offset, int whence) throws Exception {
        return k.send(FuseAbi.LSEEK, node, FakeRequest.body().u64(0).u64(offset).u32(whence).u32(0));
    }

    @Test
    void lseek_seekDataAndSeekHole_comeFromTheExtents_andPastTheEndIsEnxio() throws Exception {
        KernelSide.Created c = k.create(ROOT, "sparse", S_IFREG | 0644);
        long f = c.entry().nodeId();
        k.write(f, c.fh(), 0, new byte[4096]);
        k.write(f, c.fh(), 1 << 20, new byte[4096]);
        assertEquals(4096, lseek(f, 0, FileRequests.SEEK_HOLE).payload().getLong());
        assertEquals(1 << 20, lseek(f, 4096, FileRequests.SEEK_DATA).payload().getLong());
        assertEquals((1 << 20) + 4096, lseek(f, 1 << 20, FileRequests.SEEK_HOLE).payload().getLong(), "EOF");
        assertEquals(6, lseek(f, 2 << 20, FileRequests.SEEK_DATA).errno(), "ENXIO");
        assertEquals(22, lseek(f, 0, 0).errno(), "SEEK_SET is the kernel's own: EINVAL here");
        k.release(f, c.fh());
    }

    @Test
    void tmpfile_isOpenWithNoName_untilLinkNamesIt() throws Exception {
        ByteBuffer b = k.send(FuseAbi.TMPFILE, ROOT, FakeRequest.body().u32(02).u32(S_IFREG | 0600).u32(022).u32(0)
                .name("/")).payload();
        KernelSide.Entry e = KernelSide.Entry.decode(b);
        long fh = b.getLong();
        assertEquals(0, e.attr().nlink());
        assertEquals(S_IFREG | 0600, e.attr().mode());
        k.write(e.nodeId(), fh, 0, "tmp".getBytes(StandardCharsets.UTF_8));
        KernelSide.Entry named = KernelSide.Entry.decode(k.send(FuseAbi.LINK, ROOT, FakeRequest.body()
                .u64(e.nodeId()).name("t")).payload());
        assertEquals(e.nodeId(), named.nodeId());
        assertEquals(1, named.attr().nlink());
        assertEquals(3, stat("t").size());
        k.release(e.nodeId(), fh);
    }

    @Test
    void statfs_isFsCoresStatfs() throws Exception {
        ByteBuffer b = k.send(FuseAbi.STATFS, ROOT, FakeRequest.body()).payload();
        StatFs s = ops.statfs();
        assertEquals(80, b.remaining());
        assertEquals(s.blocks(), b.getLong());
        assertEquals(s.blocksFree(), b.getLong());
        assertEquals(s.blocksAvailable(), b.getLong());
        assertEquals(s.files(), b.getLong());
        assertEquals(s.filesFree(), b.getLong());
        assertEquals(s.blockSize(), b.getInt());
        assertEquals(s.nameMax(), b.getInt());
    }

    /** fuse_copy_file_range_in from the request's node to {@code dst}. */
    private FakeRequest copyFileRange(int opcode, long src, long offIn, long dst, long offOut, long len, long flags)
            throws Exception {
        return k.send(opcode, src, FakeRequest.body().u64(0).u64(offIn).u64(dst).u64(0).u64(offOut).u64(len)
                .u64(flags));
    }

    @Test
    void copyFileRange_repliesInEachOpcodesLayout_andTheDestinationHoldsTheBytes() throws Exception {
        byte[] data = new byte[20000];
        new Random(1).nextBytes(data);
        KernelSide.Created src = k.create(ROOT, "src", S_IFREG | 0644);
        k.write(src.entry().nodeId(), src.fh(), 0, data);
        long a = k.create(ROOT, "a", S_IFREG | 0644).entry().nodeId();
        long b = k.create(ROOT, "b", S_IFREG | 0644).entry().nodeId();

        ByteBuffer out = copyFileRange(FuseAbi.COPY_FILE_RANGE, src.entry().nodeId(), 0, a, 0, 1L << 40, 0).payload();
        assertEquals(8, out.remaining(), "fuse_write_out");
        assertEquals(20000, out.getInt());
        assertEquals(0, out.getInt(), "padding");
        out = copyFileRange(FuseAbi.COPY_FILE_RANGE_64, src.entry().nodeId(), 4096, b, 8192, 8192, 0).payload();
        assertEquals(8, out.remaining(), "fuse_copy_file_range_out");
        assertEquals(8192, out.getLong());

        assertArrayEquals(data, contents("a", 20000));
        byte[] want = new byte[16384];
        System.arraycopy(data, 4096, want, 8192, 8192);
        assertArrayEquals(want, contents("b", 16384));
    }

    @Test
    void copyFileRange_withFlags_isEinval() throws Exception {
        long src = k.create(ROOT, "src", S_IFREG | 0644).entry().nodeId();
        long dst = k.create(ROOT, "dst", S_IFREG | 0644).entry().nodeId();
        assertEquals(22, copyFileRange(FuseAbi.COPY_FILE_RANGE_64, src, 0, dst, 0, 4096, 1).errno());
    }

    /** The first {@code length} bytes of file {@code name}, which holds no more. */
    private byte[] contents(String name, int length) throws Exception {
        byte[] b = new byte[length + 1];
        assertEquals(length, ops.read(ops.lookup(ops.root(), name), 0, ByteBuffer.wrap(b)));
        return Arrays.copyOf(b, length);
    }
}
