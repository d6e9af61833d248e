package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.tx.TransactionManager;

/**
 * fsyncs of random 4 KiB overwrites without a periodic commit: each log sync takes new metadata blocks and none is
 * freed before the commit, so the log must give way to a commit once it holds {@link WriteGate#LOG_BOUND}, not
 * turn the image's free space into metadata chunks.
 */
class LogSpaceBoundTest {
    @TempDir
    Path dir;

    @Test
    void manyFsyncsWithoutCommit_logStaysUnderItsBound_commitsInstead() throws Exception {
        SparseBytes image = SparseBytes.readFrom(Images.mkfs(dir, null, 1024));
        MemoryBlockDevice dev = PowerCuts.memoryDevice(image);
        Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
        FsOperations ops = fs.operations();
        TransactionManager txm = fs.transactions();
        Random rnd = new Random(64);
        InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] block = new byte[4096];
        for (int i = 0; i < 1024; i++) {
            rnd.nextBytes(block);
            ops.write(f, (long) i * 4096, ByteBuffer.wrap(block));
        }
        ops.sync();
        long firstGeneration = txm.generation();
        long most = 0;
        int fsyncs = 0;
        while (txm.generation() == firstGeneration && fsyncs < 20_000) {
            rnd.nextBytes(block);
            ops.write(f, rnd.nextInt(1024) * 4096L, ByteBuffer.wrap(block));
            ops.fsync(f, false);
            fsyncs++;
            most = Math.max(most, txm.logBytes());
        }
        assertTrue(txm.generation() > firstGeneration, "no commit after " + fsyncs + " fsyncs, log " + most);
        // one fsync's blocks may go past the bound: the check comes before each log
        assertTrue(most <= WriteGate.LOG_BOUND + (1 << 20), "the log took " + most + " bytes");
        assertTrue(most > WriteGate.LOG_BOUND / 2, "committed before the log was near its bound: " + most);
        fs.close();
    }
}
