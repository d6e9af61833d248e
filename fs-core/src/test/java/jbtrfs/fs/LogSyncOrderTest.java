package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * The device requests of an fsync that the log takes, in the kernel's order (btrfs_sync_log): the file's data and
 * the log's tree blocks written and waited for, one flush, the primary superblock alone with log_root set, one
 * flush; nothing more, and the backup superblock keeps the last commit.
 */
class LogSyncOrderTest {
    @TempDir
    Path dir;

    @Test
    void fsyncOfAnOverwrite_writesDataAndLogBlocks_flush_primarySuperOnly_flush() throws Exception {
        SparseBytes image = SparseBytes.readFrom(Images.mkfs(dir, null, 160));
        MemoryBlockDevice dev = PowerCuts.memoryDevice(image)
                .recordRequests();
        Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
        FsOperations ops = fs.operations();
        Random rnd = new Random(25);
        InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
        ops.write(f, 0, ByteBuffer.wrap(bytes(rnd, 1 << 20)));
        ops.sync();
        long generation = superBlock(dev, 0).getLong(SuperBlock.OFFSET_GENERATION);
        long before = dev.requestsSubmitted();

        ops.write(f, 12_288, ByteBuffer.wrap(bytes(rnd, 4096)));
        ops.fsync(f, false);

        List<MemoryBlockDevice.Submitted> made = dev.submittedRequests().stream()
                .filter(r -> r.seq() > before).toList();
        int flush = firstFlush(made);
        List<MemoryBlockDevice.Submitted> writes = made.subList(0, flush);
        assertTrue(writes.size() >= 2, "no data and log block writes before the flush: " + made);
        assertTrue(writes.stream().allMatch(r -> r.op() == IoRequest.Op.WRITE && !isSuperblock(r.offset())),
                made.toString());
        List<MemoryBlockDevice.Submitted> after = made.subList(flush, made.size());
        assertEquals(3, after.size(), made.toString());
        assertEquals(IoRequest.Op.FLUSH, after.get(0).op());
        assertEquals(IoRequest.Op.WRITE, after.get(1).op());
        assertEquals(SuperBlock.MIRROR_OFFSETS[0], after.get(1).offset());
        assertEquals(SuperBlock.SIZE, after.get(1).length());
        assertEquals(IoRequest.Op.FLUSH, after.get(2).op());

        ByteBuffer primary = superBlock(dev, 0);
        assertNotEquals(0L, primary.getLong(SuperBlock.OFFSET_LOG_ROOT), "the superblock names no log");
        assertEquals(generation, primary.getLong(SuperBlock.OFFSET_GENERATION), "an fsync made a commit");
        assertEquals(0L, superBlock(dev, 1).getLong(SuperBlock.OFFSET_LOG_ROOT), "the backup copy names the log");
        fs.close();
    }

    private static int firstFlush(List<MemoryBlockDevice.Submitted> made) {
        for (int i = 0; i < made.size(); i++) {
            if (made.get(i).op() == IoRequest.Op.FLUSH) return i;
        }
        throw new AssertionError("no flush in " + made);
    }

    private static boolean isSuperblock(long offset) {
        return offset == SuperBlock.MIRROR_OFFSETS[0] || offset == SuperBlock.MIRROR_OFFSETS[1];
    }

    private static ByteBuffer superBlock(MemoryBlockDevice dev, int mirror) throws Exception {
        // read after the last flush: what the device holds is durable
        return ByteBuffer.wrap(dev.readBytes(SuperBlock.MIRROR_OFFSETS[mirror], SuperBlock.SIZE))
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}
