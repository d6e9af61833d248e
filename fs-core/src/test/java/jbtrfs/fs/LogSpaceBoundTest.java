package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
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
 * turn the image's free space into metadata chunks, and that commit is counted among the fsync fallbacks.
 */
class LogSpaceBoundTest {
    @TempDir
    Path dir;

    @Test
    void manyFsyncsWithoutCommit_logStaysUnderItsBound_commitsInstead() throws Exception {
        Filesystem fs = open();
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
        // the one fsync that committed is counted: its items would not fit, or the log was already full
        Map<String, Long> fallbacks = fs.fsyncFallbacks();
        assertEquals(1L, fallbacks.values().stream().mapToLong(Long::longValue).sum(), fallbacks.toString());
        assertTrue(fallbacks.containsKey("too_big") || fallbacks.containsKey("log_full"), fallbacks.toString());
        fs.close();
    }

    /**
     * fsyncs whose log sync copies more blocks than their items' estimate take the log past its bound without the
     * estimate refusing them; the fsync after that commits, and is counted as a full log.
     */
    @Test
    void logPastItsBound_nextFsyncCommits_countedAsLogFull() throws Exception {
        Filesystem fs = open();
        FsOperations ops = fs.operations();
        TransactionManager txm = fs.transactions();
        InodeId g = ops.mknod(ops.root(), "g", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] block = new byte[4096];
        ops.write(g, 0, ByteBuffer.wrap(block));
        ops.sync();
        long generation = txm.generation();
        long step = 0;
        int fsyncs = 0;
        while (txm.logBytes() <= WriteGate.LOG_BOUND && fsyncs < 20_000) {
            long room = WriteGate.LOG_BOUND - txm.logBytes();
            long before = txm.logBytes();
            if (step > 0 && room <= 4 * step && room % step == 0) {
                // g's fsyncs would land on the bound exactly: a new file's fsync copies fewer blocks and shifts them
                InodeId h = ops.mknod(ops.root(), "h" + fsyncs, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.fsync(h, false);
            } else {
                block[fsyncs % block.length]++;
                ops.write(g, 0, ByteBuffer.wrap(block));
                ops.fsync(g, false);
                step = txm.logBytes() - before;
            }
            fsyncs++;
            assertEquals(generation, txm.generation(), "a commit before the log passed its bound, after " + fsyncs
                    + " fsyncs: " + fs.fsyncFallbacks());
        }
        assertTrue(txm.logBytes() > WriteGate.LOG_BOUND, "the log holds " + txm.logBytes() + " after " + fsyncs);
        assertEquals(Map.of(), fs.fsyncFallbacks());
        block[0]++;
        ops.write(g, 0, ByteBuffer.wrap(block));
        ops.fsync(g, false);
        assertEquals(generation + 1, txm.generation(), "the fsync past the bound commits");
        assertEquals(Map.of("log_full", 1L), fs.fsyncFallbacks());
        fs.close();
    }

    private Filesystem open() throws Exception {
        // metadata chunks of 256 MiB: the log reaches its bound before it needs a new chunk
        SparseBytes image = SparseBytes.readFrom(Images.mkfs(dir, null, 4096));
        MemoryBlockDevice dev = PowerCuts.memoryDevice(image);
        return Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
    }
}
