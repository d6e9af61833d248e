package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.ObjectIds;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Writes into a snapshot and into its source, whose tree blocks and extents they share (the kernel's rules for
 * copying a shared block: full back references, reference counts): btrfs check is clean, both sides show what
 * was written to each and nothing of the other, and the kernel agrees. Then the kernel writes, and we again.
 */
class SnapshotWriteTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "nodesize {0}")
    @ValueSource(ints = {4096, 16384})
    void writesIntoSnapshotAndSource_checkClean_kernelAgrees(int nodesize) throws Exception {
        Images.requireRootAndLoop();
        Path image = Images.mkfs(dir, null, 512, "-n", Integer.toString(nodesize));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        // a source big enough for trees of several levels, snapshotted twice (one read-only)
        Shell.sh("mount -o loop " + image + " " + mnt + " && cd " + mnt + " && btrfs -q subvolume create src && "
                + "mkdir src/d && for i in $(seq 1 1500); do echo file $i > src/d/f$i; done && "
                + "head -c 3000000 /dev/urandom > src/big && btrfs -q subvolume snapshot src snap && "
                + "btrfs -q subvolume snapshot -r src frozen && sync && cd / && umount " + mnt);
        Random rnd = new Random(nodesize);
        for (int pass = 0; pass < 2; pass++) {
            Map<String, String> ours;
            try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
                FsOperations ops = fs.operations();
                for (String side : List.of("snap", "src")) {
                    InodeId d = ops.resolve("/" + side + "/d");
                    for (int i = 0; i < 200; i++) {
                        String name = "f" + (1 + rnd.nextInt(1500));
                        try {
                            switch (rnd.nextInt(3)) {
                                case 0 -> ops.unlink(d, name);
                                case 1 -> ops.write(ops.lookup(d, name), 3, ByteBuffer.wrap((side + i).getBytes()));
                                default -> ops.rename(d, name, d, name + "-" + side, 0);
                            }
                        } catch (FsException e) {
                            if (e.errno() != Errno.ENOENT) throw e;
                            // picked a name this side removed before
                        }
                    }
                    InodeId big = ops.resolve("/" + side + "/big");
                    byte[] patch = new byte[100_000];
                    rnd.nextBytes(patch);
                    ops.write(big, 1_000_000 + pass * 7, ByteBuffer.wrap(patch));
                    ops.truncate(big, 2_500_000 - pass * 1000);
                    ops.mknod(ops.resolve("/" + side), "new-" + pass, Stat.S_IFREG | 0644, 0, 0, 0);
                    ops.sync();
                }
                assertEquals(FsException.class, assertErrno(Errno.EROFS, () -> ops.unlink(ops.resolve("/frozen/d"), "f1")).getClass());
                // the read-only snapshot still holds the original bytes
                byte[] frozen = new byte[100];
                ops.read(ops.resolve("/frozen/d/f7"), 0, ByteBuffer.wrap(frozen));
                assertArrayEquals("file 7\n".getBytes(), Arrays.copyOf(frozen, 7));
                ours = TreeListing.ofOperations(ops);
            }
            BtrfsCheck.assertCleanWithData(image, "nodesize " + nodesize + " pass " + pass);
            assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
            Shell.sh("mount -o loop " + image + " " + mnt + " && cd " + mnt + " && rm -f src/d/f1* snap/d/f2* && "
                    + "echo kernel > snap/kernel-" + pass + " && btrfs -q subvolume snapshot snap snap2-" + pass
                    + " && sync && cd / && umount " + mnt);
            BtrfsCheck.assertClean(image, "after the kernel, pass " + pass);
        }
    }

    /**
     * A snapshot of the top subvolume made by us in a directory of the top subvolume itself: the entry that links it
     * changes the source in the snapshot's own transaction, whose first copy of a block now shared must already
     * give it full back references (before, it dropped the source's reference as if unshared: btrfs check's "owner
     * ref check failed", and the snapshot's extents lost their references once it changed). The source needs a
     * tree of two levels: a one-leaf tree shares no block, its root is never shared.
     */
    @Test
    void snapshotOfTopIntoTop_sharedBlocksKeepTheirReferences_checkClean_kernelAgrees() throws Exception {
        Images.requireRootAndLoop();
        Path image = Images.mkfs(dir, null, 256, "-n", "4096");
        Random rnd = new Random(26);
        byte[] big = new byte[2_000_000];
        rnd.nextBytes(big);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId top = ops.root();
            InodeId d = ops.mkdir(top, "d", 0755, 0, 0);
            for (int i = 0; i < 300; i++) {
                InodeId f = ops.mknod(d, "f" + i, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(("file " + i).getBytes()));
            }
            InodeId small = ops.mknod(top, "small", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(small, 0, ByteBuffer.wrap(Arrays.copyOf(big, 5000)));
            ops.write(ops.mknod(top, "big", Stat.S_IFREG | 0644, 0, 0, 0), 0, ByteBuffer.wrap(big));
            ops.sync();
            ops.snapshot(ObjectIds.FS_TREE, top, "snap", false, SubvolumeOperationsTest.ROOT);
        }
        BtrfsCheck.assertCleanWithData(image, "after the snapshot");
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            for (String side : List.of("", "/snap")) {
                InodeId d = ops.resolve(side + "/d");
                ops.unlink(d, "f5");
                ops.write(ops.lookup(d, "f7"), 6, ByteBuffer.wrap(("appended" + side).getBytes()));
                byte[] patch = new byte[8192];
                rnd.nextBytes(patch);
                ops.write(ops.resolve(side + "/big"), 40_960, ByteBuffer.wrap(patch));
                ops.truncate(ops.resolve(side + "/small"), 1000);
                ops.sync();
            }
        });
        BtrfsCheck.assertCleanWithData(image, "after changes on both sides");
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }
}
