package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * The kernel's notreelog mount option: an fsync or fdatasync commits the whole transaction (generation + 1,
 * log_root 0 on disk) rather than writing a log tree, which is what the same fsync does without the option. Needs
 * mkfs.btrfs and btrfs (dump-super, check); skips saying why otherwise.
 */
class NoTreeLogTest {
    private static final Pattern FIELD = Pattern.compile("(?m)^(generation|log_root)\\s+(\\d+)$");

    @TempDir
    Path dir;

    @Test
    void fsyncWithNoTreeLog_commitsAndLeavesNoLog() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        try (Filesystem fs = Filesystem.open(image,
                MountOptions.readWriteDefaults().withCommitSeconds(0).withNoTreeLog(true))) {
            long[] before = superFields(image);
            long commits = fs.commits();
            InodeId f = newFile(fs, "synced");
            fs.operations().fsync(f, false);
            assertEquals(commits + 1, fs.commits(), "the fsync committed");
            assertEquals(List.of(before[0] + 1, 0L), List.of(superFields(image)[0], superFields(image)[1]),
                    "generation and log_root on disk after the fsync");
            InodeId g = newFile(fs, "datasynced");
            fs.operations().fsync(g, true);
            assertEquals(commits + 2, fs.commits(), "the fdatasync committed too");
            assertEquals(0L, superFields(image)[1], "log_root after the fdatasync");
        }
        BtrfsCheck.assertCleanWithData(image, "after fsyncs with notreelog");
    }

    @Test
    void fsyncWithoutNoTreeLog_writesALogAndNoCommit() throws Exception {
        Path image = Images.mkfs(dir, null, 160);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            fs.operations().sync();
            long[] before = superFields(image);
            long commits = fs.commits();
            InodeId f = newFile(fs, "logged");
            fs.operations().fsync(f, false);
            assertEquals(commits, fs.commits(), "the fsync went to the log, not a commit");
            long[] after = superFields(image);
            assertEquals(before[0], after[0], "generation on disk after the fsync");
            assertNotEquals(0L, after[1], "log_root on disk after the fsync");
        }
    }

    private static InodeId newFile(Filesystem fs, String name) throws Exception {
        FsOperations ops = fs.operations();
        InodeId f = ops.mknod(ops.root(), name, Stat.S_IFREG | 0644, 0, 0, 0);
        ops.write(f, 0, ByteBuffer.wrap(new byte[50_000]));
        return f;
    }

    /** {generation, log_root} of the image's primary superblock, as btrfs inspect-internal dump-super says. */
    private static long[] superFields(Path image) throws Exception {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-super", image.toString()));
        long[] out = new long[2];
        Matcher m = FIELD.matcher(dump);
        while (m.find()) out[m.group(1).equals("generation") ? 0 : 1] = Long.parseLong(m.group(2));
        return out;
    }
}
