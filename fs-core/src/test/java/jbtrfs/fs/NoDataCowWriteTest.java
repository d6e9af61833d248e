package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * NODATACOW files (chattr +C) are overwritten in place, as the kernel writes them, unless someone else sees the
 * extent (a snapshot since it was written, a reflink): then they are copied on write, and the other side keeps its
 * bytes. dump-tree shows where the file's data is; btrfs check and the kernel judge the result.
 */
class NoDataCowWriteTest {
    @TempDir
    Path dir;

    @Test
    void overwritesOfANocowFile_stayInItsExtent_checkClean_kernelReadsThem() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        byte[] data = new byte[4 << 20];
        new Random(3).nextBytes(data);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "db", 0755, 0, 0);
            ops.setFileFlags(d, InodeFlags.FS_NOCOW_FL);
            InodeId f = ops.mknod(d, "table", Stat.S_IFREG | 0644, 0, 0, 0);
            for (int off = 0; off < data.length; off += 128 << 10) {
                ops.write(f, off, ByteBuffer.wrap(data, off, 128 << 10));
            }
            InodeId cow = ops.mknod(ops.root(), "plain", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(cow, 0, ByteBuffer.wrap(data, 0, 1 << 20));
        }
        String before = fileExtents(image);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId f = ops.lookup(ops.lookup(ops.root(), "db"), "table");
            byte[] x = new byte[70_000];
            new Random(4).nextBytes(x);
            // whole sectors, partial ones at both ends, the last bytes, and twice in one transaction
            for (long at : new long[] {0, (1 << 20) + 100, data.length - 5000L, 2 << 20, (2 << 20) + 4096}) {
                int n = (int) Math.min(x.length, data.length - at);
                ops.write(f, at, ByteBuffer.wrap(x, 0, n));
                System.arraycopy(x, 0, data, (int) at, n);
            }
            ops.sync();
            byte[] back = new byte[data.length];
            ops.read(f, 0, ByteBuffer.wrap(back));
            assertArrayEquals(data, back);
        });
        String after = fileExtents(image);
        assertEquals(before, after, "the nocow file's extents moved");
        BtrfsCheck.assertCleanWithData(image, "after nocow overwrites");
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    @Test
    void aSnapshotOrAReflinkOfANocowFile_keepsItsBytes_whenTheFileIsOverwritten() throws Exception {
        Images.requireRootAndLoop();
        Path image = Images.kernelWritten(dir, 256, "", """
                btrfs -q subvolume create sv && mkdir sv/d && chattr +C sv/d
                head -c 1M /dev/urandom > sv/d/snapped && head -c 1M /dev/urandom > sv/d/cloned
                cp --reflink=always sv/d/cloned sv/d/clone && sync
                btrfs -q subvolume snapshot sv snap
                """);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            InodeId d = ops.lookup(ops.lookup(ops.root(), "sv"), "d");
            InodeId snapD = ops.lookup(ops.lookup(ops.root(), "snap"), "d");
            byte[] zeros = new byte[8192];
            for (String name : new String[] {"snapped", "cloned"}) {
                InodeId f = ops.lookup(d, name);
                byte[] old = new byte[1 << 20];
                ops.read(f, 0, ByteBuffer.wrap(old));
                ops.write(f, 4096, ByteBuffer.wrap(zeros));
                ops.sync();
                InodeId other = name.equals("snapped") ? ops.lookup(snapD, name) : ops.lookup(d, "clone");
                byte[] seen = new byte[1 << 20];
                ops.read(other, 0, ByteBuffer.wrap(seen));
                assertArrayEquals(old, seen, "the overwrite of " + name + " reached its " + (name.equals("snapped")
                        ? "snapshot" : "reflink"));
                byte[] now = new byte[1 << 20];
                ops.read(f, 0, ByteBuffer.wrap(now));
                assertNotEquals(TreeListing.sha256(old), TreeListing.sha256(now));
            }
        });
        BtrfsCheck.assertClean(image, "after overwriting shared nocow extents");
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    /** The file extent items of the top subvolume, as dump-tree prints them (key, disk bytenr, offsets). */
    private static String fileExtents(Path image) throws Exception {
        StringBuilder out = new StringBuilder();
        String[] lines = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image).split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains("EXTENT_DATA")) {
                out.append(lines[i].replaceAll("itemoff \\d+ itemsize \\d+", "").trim()).append('\n');
                if (i + 2 < lines.length) out.append(lines[i + 2].trim()).append('\n');
            }
        }
        return out.toString();
    }
}
