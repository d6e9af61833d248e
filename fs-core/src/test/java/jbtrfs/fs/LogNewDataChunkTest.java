package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * An fsync in a transaction that made a data chunk commits, as the kernel's btrfs_make_block_group makes every
 * fsync of its transaction do: a logged extent in that chunk names a block group the committed trees lack, and the
 * kernel's replay of such a log fails ("failed to allocate logged data extent", EINVAL), so the image would not
 * mount (found by fsx -y through our mount, then kill -9). Needs root, loop devices and btrfs (skips saying why).
 */
class LogNewDataChunkTest {
    @TempDir
    Path dir;

    @Test
    void fsyncAfterTheTransactionMadeADataChunk_commitsInstead_kernelMountsTheCutImage() throws Exception {
        Images.requireKernelBtrfs();
        MemoryBlockDevice dev = PowerCuts.memoryDevice(Images.mkfs(dir, null, 512));
        Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
        FsOperations ops = fs.operations();
        InodeId filler = ops.mknod(ops.root(), "filler", Stat.S_IFREG | 0644, 0, 0, 0);
        InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
        ops.sync();
        // the filler takes the data chunk mkfs made, 4 MiB a write, until the running transaction makes the next
        byte[] block = new byte[4 << 20];
        Random rnd = new Random(19);
        int groups = dataGroups(fs);
        for (long at = 0; dataGroups(fs) == groups; at += block.length) {
            assertTrue(at < 400L << 20, "no new data chunk after " + (at >> 20) + " MiB");
            rnd.nextBytes(block);
            ops.write(filler, at, ByteBuffer.wrap(block));
        }
        long commits = fs.commits();
        byte[] data = new byte[1 << 20];
        rnd.nextBytes(data);
        ops.write(f, 0, ByteBuffer.wrap(data));
        ops.fsync(f, false);
        Path cut = dir.resolve("cut.img");
        dev.powerCutTo(cut, 19);
        Path mnt = Files.createTempDirectory(dir, "kernel");
        byte[] got = Images.withKernelMount(cut, mnt, "", () -> Files.readAllBytes(mnt.resolve("f")));
        assertArrayEquals(data, got, "the fsync'd file after the kernel's mount of the cut image");
        BtrfsCheck.assertCleanWithData(cut, "after the kernel's mount");
        assertEquals(commits + 1, fs.commits(), "commits at the fsync");
    }

    private static int dataGroups(Filesystem fs) throws Exception {
        int n = 0;
        for (FsInfo.BlockGroupSummary s : fs.blockGroups()) if (s.type().equals("DATA")) n += s.count();
        return n;
    }
}
