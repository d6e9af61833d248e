package jbtrfs.fuse.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.MountOptions;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.testing.Images;

/**
 * COPY_FILE_RANGE (fuse_write_out reply) and COPY_FILE_RANGE_64 (fuse_copy_file_range_out) over a read-write
 * filesystem on an image mkfs.btrfs made: the bytes copied in each reply's layout, the destination's contents, the
 * flags the kernel refuses. Skips (saying why) without mkfs.btrfs.
 */
class CopyRangeRequestsTest {
    private static final int S_IFREG = 0100000;

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

    /** fuse_copy_file_range_in from the request's node to {@code dst}. */
    private FakeRequest copy(int opcode, long src, long offIn, long dst, long offOut, long len, long flags)
            throws Exception {
        return k.send(opcode, src, FakeRequest.body().u64(0).u64(offIn).u64(dst).u64(0).u64(offOut).u64(len)
                .u64(flags));
    }

    @Test
    void copyFileRange_repliesInEachOpcodesLayout_andTheDestinationHoldsTheBytes() throws Exception {
        byte[] data = new byte[20000];
        new Random(1).nextBytes(data);
        KernelSide.Created src = k.create(NodeIds.ROOT_ID, "src", S_IFREG | 0644);
        k.write(src.entry().nodeId(), src.fh(), 0, data);
        long a = k.create(NodeIds.ROOT_ID, "a", S_IFREG | 0644).entry().nodeId();
        long b = k.create(NodeIds.ROOT_ID, "b", S_IFREG | 0644).entry().nodeId();

        ByteBuffer out = copy(FuseAbi.COPY_FILE_RANGE, src.entry().nodeId(), 0, a, 0, 1L << 40, 0).payload();
        assertEquals(8, out.remaining(), "fuse_write_out");
        assertEquals(20000, out.getInt());
        assertEquals(0, out.getInt(), "padding");
        out = copy(FuseAbi.COPY_FILE_RANGE_64, src.entry().nodeId(), 4096, b, 8192, 8192, 0).payload();
        assertEquals(8, out.remaining(), "fuse_copy_file_range_out");
        assertEquals(8192, out.getLong());

        assertArrayEquals(data, read("a", 20000));
        byte[] want = new byte[16384];
        System.arraycopy(data, 4096, want, 8192, 8192);
        assertArrayEquals(want, read("b", 16384));
    }

    @Test
    void copyFileRange_withFlags_isEinval() throws Exception {
        long src = k.create(NodeIds.ROOT_ID, "src", S_IFREG | 0644).entry().nodeId();
        long dst = k.create(NodeIds.ROOT_ID, "dst", S_IFREG | 0644).entry().nodeId();
        assertEquals(22, copy(FuseAbi.COPY_FILE_RANGE_64, src, 0, dst, 0, 4096, 1).errno());
    }

    private byte[] read(String name, int length) throws Exception {
        byte[] b = new byte[length + 1];
        assertEquals(length, ops.read(ops.lookup(ops.root(), name), 0, ByteBuffer.wrap(b)));
        return Arrays.copyOf(b, length);
    }
}
