package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/** Changes through fs-core on mkfs images; btrfs check and the kernel must accept the result. */
class WritePathTest {
    @TempDir
    Path dir;

    @Test
    void namespaceAndDataChanges_checkClean_kernelShowsTheSame() throws Exception {
        Path image = Images.mkfs(dir, null, 512);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId root = ops.root();
            InodeId d = ops.mkdir(root, "dir", 0755, 1000, 1000);
            InodeId small = ops.mknod(d, "small.txt", Stat.S_IFREG | 0644, 0, 1000, 1000);
            ops.write(small, 0, ByteBuffer.wrap("hello, world\n".getBytes(StandardCharsets.UTF_8)));
            InodeId big = ops.mknod(root, "big.bin", Stat.S_IFREG | 0600, 0, 0, 0);
            byte[] data = new byte[3 * 1024 * 1024 + 123];
            new Random(1).nextBytes(data);
            for (int off = 0; off < data.length; off += 128 * 1024) {
                int n = Math.min(128 * 1024, data.length - off);
                ops.write(big, off, ByteBuffer.wrap(data, off, n));
            }
            ops.write(big, 5000, ByteBuffer.wrap(new byte[10000]));
            ops.symlink(d, "link", "../big.bin", 0, 0);
            ops.link(small, root, "hard.txt");
            ops.mknod(root, "fifo", Stat.S_IFIFO | 0644, 0, 0, 0);
            ops.mknod(root, "null", Stat.S_IFCHR | 0666, (1 << 8) | 3, 0, 0);
            ops.setXattr(small, "user.color", "blue".getBytes(StandardCharsets.UTF_8), 0);
            InodeId gone = ops.mknod(root, "gone", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(gone, 0, ByteBuffer.wrap(new byte[70000]));
            ops.sync();
            ops.unlink(root, "gone");
            ops.rename(root, "hard.txt", d, "moved.txt", 0);
            InodeId t = ops.mknod(root, "trunc", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(t, 0, ByteBuffer.wrap(data, 0, 100000));
            ops.truncate(t, 50001);
            ops.truncate(t, 90000);
            byte[] back = new byte[data.length];
            assertEquals(data.length, ops.read(big, 0, ByteBuffer.wrap(back)));
            System.arraycopy(new byte[10000], 0, data, 5000, 10000);
            assertArrayEquals(data, back);
        });
        BtrfsCheck.assertClean(image, "btrfs check");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofOperations(fs.operations()), 20));
        }
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 20));
    }

    @Test
    void fallocateKeepSizePastAnUnalignedEnd_leavesTheSize_andTheTailReadsZero() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] data = new byte[10000];
            Arrays.fill(data, (byte) 0x5a);
            ops.write(f, 0, ByteBuffer.wrap(data));
            ops.truncate(f, 5001);
            ops.fallocate(f, FsOperations.FALLOC_FL_KEEP_SIZE, 100_000, 5000);
            assertEquals(5001, ops.stat(f).size());
            ops.truncate(f, 9000);
            byte[] back = new byte[9000];
            assertEquals(9000, ops.read(f, 0, ByteBuffer.wrap(back)));
            for (int i = 0; i < 9000; i++) assertEquals(i < 5001 ? 0x5a : 0, back[i], "byte " + i);
        }
        BtrfsCheck.assertClean(image, "btrfs check");
    }

    /** FALLOC_FL_ZERO_RANGE at every edge: inside a sector, across sectors, across and past EOF, inline files. */
    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"", "-O ^no-holes"})
    void zeroRange_readsZeros_growsOnlyWithoutKeepSize_checkClean_kernelShowsTheSame(String mkfsOptions)
            throws Exception {
        Path image = Images.mkfs(dir, null, 256, mkfsOptions.isEmpty() ? new String[0] : mkfsOptions.split(" "));
        Random rnd = new Random(11);
        int zero = FsOperations.FALLOC_FL_ZERO_RANGE;
        int keep = FsOperations.FALLOC_FL_KEEP_SIZE;
        // per file: its starting size, then (mode, offset, length) for each fallocate
        long[][] cases = {
                {300_000, zero, 5000, 20_000, zero, 8192, 8192, zero, 100_100, 200, zero | keep, 299_000, 9000},
                {300_000, zero, 290_000, 50_000, zero, 400_000, 10_000},
                {70_000, keep, 69_000, 30_000, zero | keep, 60_000, 20_000, zero, 90_000, 4096},
                {1000, zero, 100, 200, zero | keep, 900, 5000},
                {1000, zero, 500, 10_000},
                {5000, zero, 4097, 100, zero, 0, 1},
                // preallocated past EOF, then the size grows over it by truncate and by a write (-1: truncate)
                {10_000, keep, 20_000, 30_000, -1, 30_000, 0, zero | keep, 25_000, 100, -1, 70_000, 0},
        };
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            for (int c = 0; c < cases.length; c++) {
                long[] k = cases[c];
                byte[] model = new byte[(int) k[0]];
                rnd.nextBytes(model);
                InodeId f = ops.mknod(ops.root(), "z" + c, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(model));
                if (c == 1) ops.sync(); // committed extents, shared with nothing, then zeroed
                for (int i = 1; i < k.length; i += 3) {
                    int mode = (int) k[i];
                    long off = k[i + 1];
                    long len = k[i + 2];
                    int size;
                    if (mode == -1) {
                        ops.truncate(f, off);
                        size = (int) off;
                    } else {
                        ops.fallocate(f, mode, off, len);
                        size = (int) ((mode & keep) != 0 ? model.length : Math.max(model.length, off + len));
                    }
                    model = Arrays.copyOf(model, size);
                    if (mode != -1 && (mode & zero) != 0) {
                        Arrays.fill(model, (int) Math.min(off, size), (int) Math.min(off + len, size), (byte) 0);
                    }
                    assertEquals(model.length, ops.stat(f).size(), "size of z" + c + " after step " + i / 3);
                    byte[] back = new byte[model.length + 10];
                    assertEquals(model.length, ops.read(f, 0, ByteBuffer.wrap(back)));
                    assertArrayEquals(model, Arrays.copyOf(back, model.length), "z" + c + " after step " + i / 3);
                }
            }
        });
        BtrfsCheck.assertCleanWithData(image, "after zeroed ranges " + mkfsOptions);
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    @Test
    void sequentialWrites_growOneExtent_asDelayedAllocationWould() throws Exception {
        Path image = Images.mkfs(dir, null, 512);
        byte[] data = new byte[40 << 20];
        new Random(4).nextBytes(data);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "seq", Stat.S_IFREG | 0644, 0, 0, 0);
            for (int off = 0; off < data.length; off += 128 << 10) {
                ops.write(f, off, ByteBuffer.wrap(data, off, 128 << 10));
            }
            byte[] back = new byte[data.length];
            ops.read(f, 0, ByteBuffer.wrap(back));
            assertArrayEquals(data, back);
        }
        BtrfsCheck.assertCleanWithData(image, "after sequential writes");
        String tree = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image);
        long extents = tree.lines().filter(l -> l.contains("EXTENT_DATA")).count();
        // 40 MiB in 320 writes: a few extents (new data chunks may cut them), not one per write
        assertTrue(extents <= 4, extents + " extents:\n" + tree);
    }

    @Test
    void unalignedAppends_growOneExtent_rewritingTheirPartialSector() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        byte[] data = new byte[3 << 20];
        new Random(5).nextBytes(data);
        int off = 0;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "tar-like", Stat.S_IFREG | 0644, 0, 0, 0);
            // tar's 10 KiB writes, then a few that stay inside one sector
            while (off < data.length - 3000) {
                int n = Math.min(10_240, data.length - 3000 - off);
                ops.write(f, off, ByteBuffer.wrap(data, off, n));
                off += n;
            }
            for (int n : new int[] {1000, 1000, 1000}) {
                ops.write(f, off, ByteBuffer.wrap(data, off, n));
                off += n;
            }
            // an overwrite ending inside the last sector: in place as well
            ops.write(f, off - 500, ByteBuffer.wrap(data, 0, 400));
            System.arraycopy(data, 0, data, off - 500, 400);
            byte[] back = new byte[off];
            assertEquals(off, ops.read(f, 0, ByteBuffer.wrap(back)));
            assertArrayEquals(Arrays.copyOf(data, off), back);
        }
        BtrfsCheck.assertCleanWithData(image, "after unaligned appends");
        String tree = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image);
        long extents = tree.lines().filter(l -> l.contains("EXTENT_DATA")).count();
        assertTrue(extents <= 2, extents + " extents:\n" + tree);
        // no sector left behind by the rewrites: the extents hold the file's sectors and no more
        long diskBytes = tree.lines().filter(l -> l.contains("extent data disk byte"))
                .mapToLong(l -> Long.parseLong(l.trim().split(" ")[6])).sum();
        assertEquals((off + 4095) / 4096 * 4096L, diskBytes, tree);
    }

    @Test
    void writesIntoPreallocatedSpace_takeNoMoreSpace_andReadBack() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        byte[] data = new byte[24 << 20];
        new Random(6).nextBytes(data);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId f = ops.mknod(ops.root(), "pre", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(f, 0, 0, data.length);
            ops.sync();
            long before = usedBlocks(ops);
            for (int off = 0; off < data.length; off += 128 << 10) {
                ops.write(f, off, ByteBuffer.wrap(data, off, 128 << 10));
                if (off == 8 << 20) ops.sync();
            }
            // a write into the middle of what is left, and one across the end of the preallocation
            ops.sync();
            assertTrue(usedBlocks(ops) - before < 256, "writes into preallocated space took new space");
            byte[] back = new byte[data.length];
            ops.read(f, 0, ByteBuffer.wrap(back));
            assertArrayEquals(data, back);
            InodeId g = ops.mknod(ops.root(), "partial", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(g, FsOperations.FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
            ops.write(g, 300_000, ByteBuffer.wrap(data, 0, 5000));
            ops.write(g, (1 << 20) - 100, ByteBuffer.wrap(data, 0, 300));
        });
        // written through, the preallocated extent is one regular item again, as the kernel merges the pieces
        String tree = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image);
        assertEquals(1, tree.lines().filter(l -> l.contains("key (257 EXTENT_DATA")).count(), tree);
        BtrfsCheck.assertCleanWithData(image, "after writes into preallocated extents");
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    private static long usedBlocks(FsOperations ops) throws Exception {
        StatFs s = ops.statfs();
        return s.blocks() - s.blocksFree();
    }
}
