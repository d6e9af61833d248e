package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * Open, unlinked files as the kernel keeps them: with an evicting transport the last unlink leaves the inode with
 * nlink 0 and an ORPHAN_ITEM laid out as the kernel lays it out, usable until evict frees it; orphans left by a crash
 * (the kernel's or ours) are freed by the next read-write mount of either, and btrfs check accepts every stage.
 */
class OrphanTest {
    private static final int SIZE = 2_000_000;
    private static final Pattern ORPHAN =
            Pattern.compile("key \\(ORPHAN ORPHAN_ITEM (\\d+)\\) itemoff \\d+ itemsize (\\d+)");

    @TempDir
    Path dir;

    static MountOptions evicting() {
        return MountOptions.readWriteDefaults().withCommitSeconds(0).withEvictingTransport(true);
    }

    @Test
    void kernelsOrphan_freedByOurMount() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        Path crashed = dir.resolve("crashed.img");
        Path mnt = Files.createTempDirectory(dir, "mnt");
        // the copy taken while the fd is open is the image a crash leaves
        Images.kernelScript(image, mnt, "btrfs -q subvolume create sv && head -c " + SIZE + " /dev/urandom > f"
                + " && head -c " + SIZE + " /dev/urandom > sv/g && sync && exec 3< f 4< sv/g && rm f sv/g && sync"
                + " && cp --sparse=always " + image + " " + crashed + " && exec 3<&- 4<&-");
        assertEquals(1, orphanShapes(dumpFsTree(crashed)).size(), "the kernel left an orphan in the top level");
        assertEquals(1, orphanShapes(dumpTree(crashed, 256)).size(), "and one in subvolume 256");
        BtrfsCheck.assertClean(crashed, "the kernel's image with an orphan");
        long usedBefore = bytesUsed(crashed);
        try (Filesystem fs = Filesystem.open(crashed, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            assertTrue(fs.dirtyMetadataBytes() > 0, "the mount's cleanup changed the tree");
        }
        assertEquals(List.of(), orphanShapes(dumpFsTree(crashed)));
        assertEquals(List.of(), orphanShapes(dumpTree(crashed, 256)));
        assertTrue(bytesUsed(crashed) <= usedBefore - 2 * SIZE, "space returned: " + usedBefore + " -> "
                + bytesUsed(crashed));
        BtrfsCheck.assertCleanWithData(crashed, "after our orphan cleanup");
    }

    @Test
    void ourOrphan_sameLayoutAsKernels_freedByKernelMount() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        Path kernelImage = dir.resolve("kernel.img");
        Files.copy(image, kernelImage, StandardCopyOption.REPLACE_EXISTING);
        Path mnt = Files.createTempDirectory(dir, "mnt");
        Images.kernelScript(kernelImage, mnt, "head -c " + SIZE + " /dev/urandom > f && sync && exec 3< f && rm f"
                + " && sync && cp --sparse=always " + kernelImage + " " + kernelImage + ".crashed && exec 3<&-");
        Path crashed = dir.resolve("ours-crashed.img");
        try (Filesystem fs = Filesystem.open(image, evicting())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(random(SIZE)));
            ops.sync();
            ops.unlink(ops.root(), "f");
            ops.sync();
            // the image a kill -9 leaves here: committed, never evicted
            Files.copy(image, crashed, StandardCopyOption.REPLACE_EXISTING);
        }
        assertEquals(List.of(), orphanShapes(dumpFsTree(image)), "our unmount frees what is still unnamed");
        image = crashed;
        assertEquals(orphanShapes(dumpFsTree(Path.of(kernelImage + ".crashed"))), orphanShapes(dumpFsTree(image)));
        BtrfsCheck.assertCleanWithData(image, "our image with an orphan");
        long usedBefore = bytesUsed(image);
        Images.withKernelMount(image, mnt, "", () -> null); // the kernel's mount runs btrfs_orphan_cleanup
        assertEquals(List.of(), orphanShapes(dumpFsTree(image)), "the kernel's mount cleaned our orphan");
        assertTrue(bytesUsed(image) <= usedBefore - SIZE, "space returned");
        BtrfsCheck.assertCleanWithData(image, "after the kernel's orphan cleanup");
    }

    @Test
    void unlinkedWhileInUse_usableUntilEvict_thenFreed() throws Exception {
        Images.requireMkfs();
        Path image = Images.mkfs(dir, null, 128);
        long usedAtStart = bytesUsed(image);
        byte[] data = random(SIZE);
        try (Filesystem fs = Filesystem.open(image, evicting())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(data));
            ops.unlink(ops.root(), "f");
            assertErrno(Errno.ENOENT, () -> ops.lookup(ops.root(), "f"));
            assertEquals(0, ops.stat(f).nlink());
            assertArrayEquals(data, readAll(ops, f));
            ops.write(f, SIZE, ByteBuffer.wrap(new byte[] {7}));
            ops.chmod(f, 0600);
            assertEquals(SIZE + 1, ops.stat(f).size());
            ops.sync();
            assertEquals(1, orphanShapes(dumpFsTree(image)).size(), "committed with its orphan item");
            ops.evict(f);
            assertErrno(Errno.ENOENT, () -> ops.stat(f));
            ops.evict(f); // a second forget of a freed inode is harmless
        }
        assertEquals(List.of(), orphanShapes(dumpFsTree(image)));
        assertTrue(bytesUsed(image) < usedAtStart + SIZE / 2, "space returned");
        BtrfsCheck.assertCleanWithData(image, "after evict");
    }

    @Test
    void rmdirAndRenameOver_leaveOrphansEvictFrees() throws Exception {
        Images.requireMkfs();
        Path image = Images.mkfs(dir, null, 128);
        try (Filesystem fs = Filesystem.open(image, evicting())) {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "d", 0755, 0, 0);
            InodeId a = ops.mknod(ops.root(), "a", Stat.S_IFREG | 0644, 0, 0, 0);
            InodeId b = ops.mknod(ops.root(), "b", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(b, 0, ByteBuffer.wrap(random(100_000)));
            ops.rmdir(ops.root(), "d");
            ops.rename(ops.root(), "a", ops.root(), "b", 0);
            assertEquals(0, ops.stat(d).nlink());
            assertEquals(0, ops.stat(b).nlink());
            assertEquals(1, ops.stat(a).nlink());
            ops.sync();
            assertEquals(2, orphanShapes(dumpFsTree(image)).size());
            BtrfsCheck.assertClean(image, "two orphans");
            ops.evict(d);
            ops.evict(b);
            ops.evict(a); // has a name: stays
            assertEquals(1, ops.stat(a).nlink());
        }
        assertEquals(List.of(), orphanShapes(dumpFsTree(image)));
        BtrfsCheck.assertCleanWithData(image, "after evict");
    }

    @Test
    void staleOrphanItems_droppedAtMount_inodesWithNamesKept() throws Exception {
        Images.requireMkfs();
        Path src = Files.createDirectory(dir.resolve("src"));
        Files.write(src.resolve("kept"), random(10_000));
        Path image = Images.mkfs(dir, src, 128);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            InodeId kept = fs.operations().lookup(fs.operations().root(), "kept");
            // what an old kernel's truncate or a half-made link leaves: orphan items of a named and a missing inode
            var tx = fs.transactions().current();
            for (long ino : new long[] {kept.objectid(), 4242}) {
                tx.editor().put(tx.root(5), new jbtrfs.format.Key(ObjectIds.ORPHAN,
                        KeyType.ORPHAN_ITEM, ino), new byte[0]);
            }
        }
        assertEquals(2, orphanShapes(dumpFsTree(image)).size());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            assertEquals(1, fs.operations().stat(fs.operations().lookup(fs.operations().root(), "kept")).nlink());
        }
        assertEquals(List.of(), orphanShapes(dumpFsTree(image)));
        BtrfsCheck.assertCleanWithData(image, "after dropping stale orphan items");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            InodeId kept = fs.operations().lookup(fs.operations().root(), "kept");
            assertArrayEquals(random(10_000), readAll(fs.operations(), kept));
        }
    }

    @Test
    void withoutEvictingTransport_unlinkFreesAtOnce() throws Exception {
        Images.requireMkfs();
        Path image = Images.mkfs(dir, null, 128);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.unlink(ops.root(), "f");
            assertErrno(Errno.ENOENT, () -> ops.stat(f));
        }
        assertEquals(List.of(), orphanShapes(dumpFsTree(image)));
    }

    /**
     * One line per orphan item of a subvolume tree's dump: its item size, and the inode item it names (links, mode,
     * size, which the kernel's and ours must share), with the inode number left out.
     */
    static List<String> orphanShapes(String dump) {
        List<String> out = new ArrayList<>();
        Matcher m = ORPHAN.matcher(dump);
        while (m.find()) {
            String ino = m.group(1);
            Matcher inode = Pattern.compile("key \\(" + ino + " INODE_ITEM 0\\)[^\\n]*\\n[^\\n]*size (\\d+) [^\\n]*\\n"
                    + "[^\\n]*mode (\\d+) links (\\d+)").matcher(dump);
            out.add("orphan itemsize " + m.group(2) + (inode.find() ? " inode size " + inode.group(1) + " mode "
                    + inode.group(2) + " links " + inode.group(3) : " inode missing"));
        }
        return out;
    }

    static String dumpFsTree(Path image) throws Exception {
        return dumpTree(image, 5);
    }

    static String dumpTree(Path image, long tree) throws Exception {
        return Shell.stdout(List.of("btrfs", "inspect-internal", "dump-tree", "-t", Long.toString(tree),
                image.toString()));
    }

    static long bytesUsed(Path image) throws Exception {
        for (String line : Shell.stdout(List.of("btrfs", "inspect-internal", "dump-super", image.toString()))
                .split("\n")) {
            if (line.startsWith("bytes_used")) return Long.parseLong(line.split("\\s+")[1]);
        }
        throw new AssertionError("no bytes_used in dump-super of " + image);
    }

    private static byte[] readAll(FsOperations ops, InodeId f) throws Exception {
        ByteBuffer b = ByteBuffer.allocate((int) ops.stat(f).size());
        while (b.hasRemaining() && ops.read(f, b.position(), b) > 0) {
            // reads until the end
        }
        return b.array();
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }
}
