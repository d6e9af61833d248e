package jbtrfs.fuse.node;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.Errno;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.fuse.kernel.FuseConnection;
import jbtrfs.fuse.kernel.FuseNotifier;
import jbtrfs.fuse.kernel.MalformedRequestException;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;

/**
 * {@link NodeHandler} over a real filesystem on an image mkfs.btrfs made, driven with requests laid out as the
 * kernel lays them out ({@link KernelSide}); no FUSE mount. Skips (saying why) without mkfs.btrfs.
 */
class NodeHandlerTest {
    private static final int EEXIST = 17;
    private static final int EINVAL = 22;
    private static final int ENOENT = 2;
    private static final int ENOSYS = 38;
    private static final int EISDIR = 21;
    private static final int ENODATA = 61;
    private static final int S_IFREG = 0100000;

    @TempDir
    Path tmp;

    private Path image(boolean withFiles) throws Exception {
        if (!withFiles) return Images.mkfs(tmp, null, 256);
        Path src = Files.createDirectory(tmp.resolve("src"));
        Path many = Files.createDirectory(src.resolve("many"));
        for (int i = 0; i < 300; i++) Files.writeString(many.resolve("file-with-a-longer-name-" + i), "x".repeat(i));
        Files.writeString(src.resolve("top.txt"), "top");
        return Images.mkfs(tmp, src, 256);
    }

    private static NodeHandler handler(FsOperations ops, NodeOptions options) {
        return new NodeHandler(ops, 4096, options, new SimpleMeterRegistry());
    }

    @Test
    void readdirplus_listsEveryEntryWithItsAttributes_andCountsEachOnce() throws Exception {
        try (Filesystem fs = Filesystem.open(image(true), MountOptions.readOnlyDefaults())) {
            NodeHandler h = handler(fs.operations(), NodeOptions.defaults());
            KernelSide k = new KernelSide(h);
            long many = k.lookup(NodeIds.ROOT_ID, "many").nodeId();
            List<KernelSide.Dirent> plus = k.list(many, 4096, true);
            List<KernelSide.Dirent> plain = k.list(many, 4096, false);

            Set<String> want = new TreeSet<>(List.of(".", ".."));
            for (int i = 0; i < 300; i++) want.add("file-with-a-longer-name-" + i);
            assertEquals(want, new TreeSet<>(plus.stream().map(KernelSide.Dirent::name).toList()));
            assertEquals(302, plus.size(), "no entry twice over 4 KiB replies");
            assertEquals(plain.stream().map(d -> d.name() + " " + d.ino() + " " + d.off() + " " + d.type()).toList(),
                    plus.stream().map(d -> d.name() + " " + d.ino() + " " + d.off() + " " + d.type()).toList());
            for (KernelSide.Dirent d : plus) {
                if (d.name().startsWith(".")) {
                    assertEquals(0, d.entry().nodeId(), "\".\" and \"..\" hand the kernel no node");
                    continue;
                }
                assertEquals(k.getattr(d.entry().nodeId()), d.entry().attr(), d.name());
                assertEquals(d.ino(), d.entry().attr().ino());
                assertEquals(S_IFREG, d.entry().attr().mode() & 0170000, d.name());
                int i = Integer.parseInt(d.name().substring("file-with-a-longer-name-".length()));
                assertEquals(i, d.entry().attr().size(), d.name());
            }
            assertEquals(301, h.nodeCount(), "the directory and its 300 entries");
            for (KernelSide.Dirent d : plus) if (!d.name().startsWith(".")) k.forget(d.entry().nodeId(), 1);
            assertEquals(1, h.nodeCount());
            k.forget(many, 1);
            assertEquals(0, h.nodeCount());
        }
    }

    @Test
    void createWriteRead_returnsTheBytesWritten_andTheImageChecksClean() throws Exception {
        Path image = image(false);
        byte[] a = new byte[70_000];
        byte[] b = new byte[5000];
        new Random(17).nextBytes(a);
        new Random(18).nextBytes(b);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            NodeHandler h = handler(fs.operations(), NodeOptions.defaults());
            KernelSide k = new KernelSide(h);
            KernelSide.Created c = k.create(NodeIds.ROOT_ID, "data.bin", S_IFREG | 0640);
            long node = c.entry().nodeId();
            assertEquals(S_IFREG | 0640, c.entry().attr().mode());
            assertEquals(0, c.entry().attr().size());
            assertEquals(a.length, k.write(node, c.fh(), 0, a));
            assertEquals(b.length, k.write(node, c.fh(), 1 << 20, b));
            assertArrayEquals(a, k.read(node, c.fh(), 0, a.length));
            assertArrayEquals(new byte[4096], k.read(node, c.fh(), 200_000, 4096), "the hole reads as zeros");
            assertArrayEquals(b, k.read(node, c.fh(), 1 << 20, 65536), "short at the end of the file");
            assertEquals((1 << 20) + b.length, k.getattr(node).size());
            assertEquals(node, k.lookup(NodeIds.ROOT_ID, "data.bin").nodeId());
            k.release(node, c.fh());
            h.destroy();
        }
        BtrfsCheck.assertCleanWithData(image, "after CREATE, WRITE and RELEASE through the node layer");
    }

    private static final int WHITEOUT = 1 << 2;

    @Test
    void rename2_passesItsFlagsOn_refusesAnExistingNameWithNoreplace_andLeavesAWhiteout() throws Exception {
        try (Filesystem fs = Filesystem.open(image(false), MountOptions.readWriteDefaults())) {
            RecordingOps rec = new RecordingOps(fs.operations());
            KernelSide k = new KernelSide(handler(rec.ops(), NodeOptions.defaults()));
            k.create(NodeIds.ROOT_ID, "a", S_IFREG | 0644);
            k.create(NodeIds.ROOT_ID, "b", S_IFREG | 0644);
            assertEquals(EEXIST, k.rename2(NodeIds.ROOT_ID, "a", NodeIds.ROOT_ID, "b", FsOperations.RENAME_NOREPLACE));
            assertEquals(EINVAL, k.rename2(NodeIds.ROOT_ID, "a", NodeIds.ROOT_ID, "b",
                    FsOperations.RENAME_EXCHANGE | WHITEOUT), "RENAME_WHITEOUT with EXCHANGE");
            k.rename2(NodeIds.ROOT_ID, "a", NodeIds.ROOT_ID, "b", FsOperations.RENAME_EXCHANGE);
            assertEquals(0, k.rename2(NodeIds.ROOT_ID, "a", NodeIds.ROOT_ID, "c", 0));
            KernelSide.Entry gone = k.lookup(NodeIds.ROOT_ID, "a");
            assertEquals(0, gone.nodeId(), "a negative entry");
            assertEquals(1, gone.entryValid(), "kept for the negative timeout");
            assertEquals(0, k.rename2(NodeIds.ROOT_ID, "b", NodeIds.ROOT_ID, "d", WHITEOUT));
            List<Integer> flags = rec.calls("rename").stream().map(c -> (Integer) c.args().get(4)).toList();
            assertEquals(List.of(FsOperations.RENAME_NOREPLACE, FsOperations.RENAME_EXCHANGE, 0, 0), flags,
                    "the WHITEOUT flag never reaches fs-core, nor a refused rename");
            Stat whiteout = fs.operations().stat(fs.operations().lookup(fs.operations().root(), "b"));
            assertEquals(Stat.S_IFCHR, whiteout.mode(), "a character device without permissions at the old name");
            assertEquals(0, whiteout.rdev());
        }
    }

    @Test
    void forgetToZero_evictsOnce_butNotWhileOpen() throws Exception {
        try (Filesystem fs = Filesystem.open(image(false), MountOptions.readWriteDefaults())) {
            RecordingOps rec = new RecordingOps(fs.operations());
            NodeHandler h = handler(rec.ops(), NodeOptions.defaults());
            KernelSide k = new KernelSide(h);
            KernelSide.Created c = k.create(NodeIds.ROOT_ID, "f", S_IFREG | 0644);
            long node = c.entry().nodeId();
            assertEquals(node, k.lookup(NodeIds.ROOT_ID, "f").nodeId());
            k.forget(node, 1);
            k.forget(node, 1);
            assertEquals(1, h.nodeCount(), "the open handle keeps the node");
            k.release(node, c.fh());
            assertEquals(0, h.nodeCount());
            h.destroy();
            InodeId id = fs.operations().lookup(fs.operations().root(), "f");
            assertEquals(List.of(id), rec.calls("evict").stream().map(e -> e.args().get(0)).toList());
        }
    }

    @Test
    void anOpenUnlinkedFile_livesUntilReleasedAndForgotten_thenEvictFreesIt() throws Exception {
        try (Filesystem fs = Filesystem.open(image(false),
                MountOptions.readWriteDefaults().withEvictingTransport(true))) {
            FsOperations ops = fs.operations();
            NodeHandler h = handler(ops, NodeOptions.defaults());
            KernelSide k = new KernelSide(h);
            KernelSide.Created c = k.create(NodeIds.ROOT_ID, "f", S_IFREG | 0644);
            long node = c.entry().nodeId();
            byte[] data = new byte[10_000];
            new Random(3).nextBytes(data);
            k.write(node, c.fh(), 0, data);
            assertEquals(0, k.send(FuseAbi.UNLINK, NodeIds.ROOT_ID, FakeRequest.body().name("f")).errno());
            assertEquals(0, k.getattr(node).nlink());
            assertArrayEquals(data, k.read(node, c.fh(), 0, data.length), "readable with no name");
            k.release(node, c.fh());
            k.forget(node, 1);
            h.destroy();
            assertErrno(Errno.ENOENT, () -> ops.stat(new NodeIds(ops.root(), false).inode(node)),
                    "freed once the kernel forgot it");
        }
    }

    @Test
    void invalidations_reachTheKernelLater_forNodesItHoldsOnly() throws Exception {
        try (Filesystem fs = Filesystem.open(image(true), MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            NodeHandler h = handler(ops, NodeOptions.defaults());
            List<String> sent = Collections.synchronizedList(new ArrayList<>());
            h.init(new FuseConnection(45, 0, 1 << 20, 256), new FuseNotifier() {
                @Override
                public void invalInode(long nodeId, long offset, long length) {
                    sent.add(Thread.currentThread().getName() + " inode " + nodeId + " " + offset);
                }

                @Override
                public void invalEntry(long parent, byte[] name) {
                    sent.add(Thread.currentThread().getName() + " entry " + parent + " "
                            + new String(name, StandardCharsets.UTF_8));
                }

                @Override
                public void prune(long nodeId) {
                    sent.add(Thread.currentThread().getName() + " prune " + nodeId);
                }
            });
            KernelSide k = new KernelSide(h);
            long top = k.lookup(NodeIds.ROOT_ID, "top.txt").nodeId();
            InodeId topId = ops.lookup(ops.root(), "top.txt");
            InodeId many = ops.lookup(ops.root(), "many");
            h.invalidateInode(topId, false);
            h.invalidateInode(many, true);
            h.invalidateEntry(ops.root(), "gone");
            h.destroy();
            assertEquals(List.of("jbtrfs-nodes inode " + top + " 0", "jbtrfs-nodes entry 1 gone"), sent,
                    "on the background thread; nothing for \"many\", which the kernel was never shown");
        }
    }

    @Test
    void errors_areErrnos_andNeverAnsweredTwice() throws Exception {
        try (Filesystem fs = Filesystem.open(image(true), MountOptions.readOnlyDefaults())) {
            KernelSide k = new KernelSide(handler(fs.operations(),
                    NodeOptions.defaults().withTimeouts(Duration.ZERO, Duration.ZERO, Duration.ZERO)));
            assertEquals(ENOENT, k.send(FuseAbi.LOOKUP, NodeIds.ROOT_ID, FakeRequest.body().name("none")).errno(),
                    "no negative entry without an entry timeout");
            assertEquals(ENOSYS, k.send(FuseAbi.FLUSH, NodeIds.ROOT_ID, FakeRequest.body()).errno());
            assertEquals(ENOSYS, k.send(4242, NodeIds.ROOT_ID, FakeRequest.body()).errno());
            assertEquals(EISDIR, k.send(FuseAbi.OPEN, NodeIds.ROOT_ID, FakeRequest.body().u32(0).u32(0)).errno());
            long top = k.lookup(NodeIds.ROOT_ID, "top.txt").nodeId();
            assertEquals(30, k.send(FuseAbi.OPEN, top, FakeRequest.body().u32(2).u32(0)).errno(), "EROFS");
            assertEquals(8, k.send(FuseAbi.LISTXATTR, top, FakeRequest.body().u32(0).u32(0)).payload().remaining(),
                    "a size-0 probe is answered with fuse_getxattr_out");
            assertEquals(ENODATA, k.send(FuseAbi.GETXATTR, top, FakeRequest.body().u32(0).u32(0).name("user.x"))
                    .errno());
            assertThrows(MalformedRequestException.class,
                    () -> k.send(FuseAbi.LOOKUP, NodeIds.ROOT_ID, FakeRequest.body().bytes(new byte[] {'x'})));
            assertThrows(MalformedRequestException.class,
                    () -> k.send(FuseAbi.READ, top, FakeRequest.body().u64(0).u64(0)));
            FakeRequest batch = k.send(FuseAbi.BATCH_FORGET, 0, FakeRequest.body().u32(5).u32(0).u64(top));
            assertTrue(batch.noReplySent(), "a short BATCH_FORGET is still not answered");
        }
    }
}
