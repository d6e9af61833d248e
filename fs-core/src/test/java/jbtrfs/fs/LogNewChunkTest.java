package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * An fsync in a transaction that made a metadata chunk: a log block there would be unreachable after a power cut
 * (the log sync's superblock names the committed chunk tree, which lacks the chunk), so the fsync commits instead,
 * counted as {@code new_chunk}, and the image left by a power cut right after it opens and checks clean.
 */
class LogNewChunkTest {
    @TempDir
    Path dir;

    @Test
    void fsyncAfterTheTransactionMadeAMetadataChunk_commitsInstead_cutImageChecksClean() throws Exception {
        MemoryBlockDevice dev = PowerCuts.memoryDevice(Images.mkfs(dir, null, 512));
        Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
        FsOperations ops = fs.operations();
        InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
        InodeId filler = ops.mknod(ops.root(), "filler", Stat.S_IFREG | 0644, 0, 0, 0);
        ops.sync();
        // xattrs of nearly a leaf each fill the metadata chunks; syncs on the way keep each transaction small, so
        // the one that makes the next chunk is still running when the loop sees it
        int groups = metadataGroups(fs);
        byte[] value = new byte[15_000];
        for (int i = 0; metadataGroups(fs) == groups; i++) {
            assertTrue(i < 100_000, "no new metadata chunk after " + i + " xattrs");
            Arrays.fill(value, (byte) i);
            ops.setXattr(filler, "user.x" + i, value, 0);
            if (fs.dirtyMetadataBytes() > 8L << 20 && metadataGroups(fs) == groups) ops.sync();
        }
        long commits = fs.commits();
        byte[] data = "durable\n".getBytes();
        ops.write(f, 0, ByteBuffer.wrap(data));
        ops.fsync(f, false);
        Path cut = dir.resolve("cut.img");
        dev.powerCutTo(cut, 26);
        BtrfsCheck.assertCleanWithData(cut, "after a power cut right after the fsync");
        try (Filesystem reopened = Filesystem.open(cut, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations r = reopened.operations();
            ByteBuffer got = ByteBuffer.allocate(64);
            int n = r.read(r.resolve("/f"), 0, got);
            assertArrayEquals(data, Arrays.copyOf(got.array(), n), "the fsync'd file after the cut");
        }
        assertEquals(Map.of("new_chunk", 1L), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
        assertEquals(commits + 1, fs.commits(), "commits after the fsync");
    }

    private static int metadataGroups(Filesystem fs) throws Exception {
        int n = 0;
        for (FsInfo.BlockGroupSummary s : fs.blockGroups()) if (s.type().equals("METADATA")) n += s.count();
        return n;
    }
}
