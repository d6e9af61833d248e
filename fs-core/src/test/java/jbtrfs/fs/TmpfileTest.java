package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.TreeListing;

/**
 * O_TMPFILE as the kernel's btrfs_tmpfile makes it: a nameless inode with nlink 0 and an orphan item (the same
 * items the kernel leaves for an open O_TMPFILE), which linkat names (its orphan item goes) and evict frees.
 */
class TmpfileTest {
    private static final byte[] DATA = "temporary, then linked\n".repeat(5000).getBytes();

    @TempDir
    Path dir;

    @Test
    void tmpfile_sameOrphanAsKernels_linkatNamesIt() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        Path kernelImage = dir.resolve("kernel.img");
        Files.copy(image, kernelImage, StandardCopyOption.REPLACE_EXISTING);
        Path kernelCrashed = dir.resolve("kernel-crashed.img");
        Path mnt = Files.createTempDirectory(dir, "mnt");
        Path data = dir.resolve("data");
        Files.write(data, DATA);
        String script = """
                import os, subprocess, sys
                fd = os.open(".", os.O_TMPFILE | os.O_RDWR, 0o640)
                os.write(fd, open(sys.argv[1], "rb").read())
                os.sync()
                subprocess.run(["cp", "--sparse=always", sys.argv[2], sys.argv[3]], check=True)
                # a dir fd makes python call linkat(AT_SYMLINK_FOLLOW), the documented way to name an O_TMPFILE
                os.link("/proc/self/fd/%d" % fd, "named", dst_dir_fd=os.open(".", os.O_RDONLY), follow_symlinks=True)
                os.close(fd)
                """;
        Images.kernelScript(kernelImage, mnt, "python3 -c '" + script + "' " + data + " " + kernelImage + " "
                + kernelCrashed);
        Path ourCrashed = dir.resolve("ours-crashed.img");
        try (Filesystem fs = Filesystem.open(image, OrphanTest.evicting())) {
            FsOperations ops = fs.operations();
            InodeId tmp = ops.tmpfile(ops.root(), 0640, 0, 0);
            ops.write(tmp, 0, ByteBuffer.wrap(DATA));
            assertEquals(0, ops.stat(tmp).nlink());
            ops.sync();
            Files.copy(image, ourCrashed, StandardCopyOption.REPLACE_EXISTING);
            ops.link(tmp, ops.root(), "named");
            assertEquals(1, ops.stat(tmp).nlink());
        }
        assertEquals(OrphanTest.orphanShapes(OrphanTest.dumpFsTree(kernelCrashed)),
                OrphanTest.orphanShapes(OrphanTest.dumpFsTree(ourCrashed)), "an open O_TMPFILE's items");
        assertEquals(1, OrphanTest.orphanShapes(OrphanTest.dumpFsTree(ourCrashed)).size());
        BtrfsCheck.assertCleanWithData(ourCrashed, "an unlinked tmpfile");
        assertEquals(List.of(), OrphanTest.orphanShapes(OrphanTest.dumpFsTree(image)), "linkat took the orphan");
        BtrfsCheck.assertCleanWithData(image, "a linked tmpfile");
        var kernelView = TreeListing.ofKernelMount(image, dir, "");
        assertEquals(TreeListing.sha256(DATA), kernelView.get("/named").replaceAll(".* data=(\\S+).*", "$1"),
                kernelView.get("/named"));
        assertEquals(true, kernelView.get("/named").startsWith("mode=100640 "), kernelView.get("/named"));
    }

    @Test
    void unlinkedTmpfile_freedByEvict() throws Exception {
        Images.requireMkfs();
        Path image = Images.mkfs(dir, null, 128);
        long usedAtStart = OrphanTest.bytesUsed(image);
        try (Filesystem fs = Filesystem.open(image, OrphanTest.evicting())) {
            FsOperations ops = fs.operations();
            InodeId tmp = ops.tmpfile(ops.root(), 0600, 0, 0);
            ops.write(tmp, 0, ByteBuffer.wrap(new byte[1 << 20]));
            ops.evict(tmp);
            assertErrno(Errno.ENOENT, () -> ops.stat(tmp));
        }
        assertEquals(List.of(), OrphanTest.orphanShapes(OrphanTest.dumpFsTree(image)));
        assertEquals(usedAtStart, OrphanTest.bytesUsed(image), "space returned");
        BtrfsCheck.assertCleanWithData(image, "after evict of a tmpfile");
    }
}
