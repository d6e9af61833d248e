package jbtrfs.fuse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.ScrubStatus;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.testing.Images;

/**
 * The scrub ioctls through the node layer over a read-write filesystem on an image mkfs.btrfs made: the kernel's
 * errnos (EPERM, ENODEV, EOPNOTSUPP, ENOTCONN, EINPROGRESS), and SCRUB_PROGRESS answering what fs-core's scrub
 * counted. Skips (saying why) without mkfs.btrfs.
 */
class ScrubRequestsTest {
    private static final long ROOT = NodeIds.ROOT_ID;

    @TempDir
    Path tmp;
    private Filesystem fs;
    private NodeHandler handler;
    private KernelSide k;

    @BeforeEach
    void mount() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.write(src.resolve("f"), new byte[300_000]);
        fs = Filesystem.open(Images.mkfs(tmp, src, 256), MountOptions.readWriteDefaults());
        handler = new NodeHandler(fs.operations(), 4096, NodeOptions.defaults(), new SimpleMeterRegistry());
        k = new KernelSide(handler);
    }

    @AfterEach
    void unmount() throws Exception {
        handler.destroy();
        fs.close();
    }

    private FakeRequest ioctl(int cmd, int size, byte[] in, int uid) throws Exception {
        FakeRequest.Body body = FakeRequest.body().u64(0).u32(0).u32(cmd).u64(0).u32(in.length).u32(size).bytes(in);
        return k.send(new FakeRequest(FuseAbi.IOCTL, ROOT, body).asUser(uid));
    }

    private static byte[] args(long devid, long flags) {
        return ByteBuffer.allocate(ScrubRequests.ARGS_SIZE).order(ByteOrder.nativeOrder()).putLong(0, devid)
                .putLong(16, -1L).putLong(24, flags).array();
    }

    @Test
    void scrubIoctls_answerAsTheKernelsAndReportTheScrub() throws Exception {
        int argsSize = ScrubRequests.ARGS_SIZE;
        int scrub = ScrubRequests.BTRFS_IOC_SCRUB;
        int progress = ScrubRequests.BTRFS_IOC_SCRUB_PROGRESS;
        assertEquals(1, ioctl(scrub, argsSize, args(1, 0), 1000).errno(), "EPERM: CAP_SYS_ADMIN only");
        assertEquals(107, ioctl(progress, argsSize, args(1, 0), 0).errno(), "ENOTCONN before any scrub");
        assertEquals(107, ioctl(ScrubRequests.BTRFS_IOC_SCRUB_CANCEL, 0, new byte[0], 0).errno(), "ENOTCONN");
        assertEquals(19, ioctl(scrub, argsSize, args(2, 0), 0).errno(), "ENODEV: no device 2");
        assertEquals(95, ioctl(scrub, argsSize, args(1, 2), 0).errno(), "EOPNOTSUPP: an unknown flag");

        FakeRequest started = ioctl(scrub, argsSize, args(1, 0), 0);
        assertEquals(0, started.errno());
        assertEquals(16 + argsSize, started.payload().remaining());
        int again = ioctl(scrub, argsSize, args(1, 0), 0).errno();
        fs.operations().scrubber().await();
        assertTrue(again == 0 || again == 115, "EINPROGRESS while it runs, or a new scrub after it ended: " + again);
        ScrubStatus done = fs.operations().scrubber().await();

        ByteBuffer p = ioctl(progress, argsSize, args(1, 0), 0).payload().order(ByteOrder.nativeOrder());
        p.position(16);
        ScrubStatus answered = ScrubRequests.decode(p, List.of());
        assertEquals(done.progress(), answered.progress());
        assertEquals(ScrubStatus.State.FINISHED, answered.state());
        assertTrue(answered.progress().dataBytesScrubbed() >= 300_000, answered.progress().toString());
        assertEquals(0, ScrubRequests.uncorrectablePaths(p));

        ByteBuffer errors = ioctl(ScrubRequests.JBTRFS_IOC_SCRUB_ERRORS, ScrubRequests.ERRORS_SIZE, new byte[8], 0)
                .payload().order(ByteOrder.nativeOrder());
        assertEquals(16 + ScrubRequests.ERRORS_SIZE, errors.remaining());
        assertEquals(0, errors.getInt(16), "no uncorrectable paths");
        assertEquals(0, errors.getInt(20), "none in this answer");
    }
}
