package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;

/**
 * Unlinks of the names one inode has in one directory, held both ways the kernel holds them: packed in the inode's
 * one INODE_REF for that directory, and, past what that item takes, in INODE_EXTREFs keyed by name hash. Each
 * unlink removes its own name alone (its dir item, dir index and ref); the kernel then lists what we left, counts
 * the links as we do, and removes the rest itself; btrfs check finds nothing at either stage.
 */
class UnlinkRefsTest {
    /** Long names, so that 300 of them overflow a 16 KiB leaf's inode ref into extended refs. */
    private static final String NAME = "hardlink-with-a-rather-long-name-to-overflow-the-inode-ref-";

    @TempDir
    Path dir;

    @Test
    void unlinksOfPackedAndExtendedRefs_removeThatNameAlone_asTheKernelReadsIt() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        List<String> kept = new ArrayList<>();
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "d", 0755, 0, 0);
            InodeId t = ops.mknod(d, "t", Stat.S_IFREG | 0644, 0, 0, 0);
            for (int i = 1; i <= 300; i++) ops.link(t, d, NAME + i);
            // every third name, from the packed ref and the extended ones alike, then the first name
            for (int i = 1; i <= 300; i++) {
                if (i % 3 == 0) ops.unlink(d, NAME + i);
                else kept.add(NAME + i);
            }
            ops.unlink(d, "t");
            ops.mknod(d, "alone", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.unlink(d, "alone");
            assertEquals(kept.size(), ops.stat(t).nlink());
            ops.sync();
        }
        BtrfsCheck.assertClean(image, "after our unlinks");
        kept.sort(null);
        Path mnt = Files.createTempDirectory(dir, "mnt");
        String seen = Images.kernelScript(image, mnt, "ls d | LC_ALL=C sort; stat -c %h d/" + kept.get(0));
        assertEquals(String.join("\n", kept) + "\n" + kept.size(), seen.strip());
        Images.kernelScript(image, mnt, "rm -r d && sync");
        BtrfsCheck.assertClean(image, "after the kernel removed the rest");
    }
}
