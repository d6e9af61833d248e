package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Read-write mounts of a set with a member missing (-o degraded), where the kernel allows them: every chunk keeps a
 * copy on the members present. Writes go to the copies present; new chunks go to the members present, in the
 * set's profile where they can hold it, else SINGLE (as the kernel allocates when degraded). The kernel then mounts
 * the degraded set and lists exactly our view, and btrfs check finds it clean.
 */
class DegradedWriteTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} members, {1} new data chunks")
    @CsvSource({"2, single", "3, RAID1"})
    void raid1MemberMissing_readWriteDegraded_kernelListsOurViewAndCheckClean(int members, String newProfile)
            throws Exception {
        Images.requireKernelBtrfs();
        List<Path> set = MemberSets.mkfs(dir, members, 256, "-d", "raid1", "-m", "raid1");
        MemberSets.kernelWritten(set, dir);
        List<Path> present = new ArrayList<>(set.subList(0, members - 1));
        Map<String, String> ours;
        try (Filesystem fs = Filesystem.open(present.get(0), MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withDevices(present.subList(1, present.size()), true))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            InodeId d = ops.mkdir(root, "written-degraded", 0755, 0, 0);
            // 8 MiB at a time until the data chunks are full and a new one is made
            InodeId big = ops.mknod(d, "big", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] part = new byte[8 << 20];
            Random rnd = new Random(20);
            int before = dataChunks(fs);
            for (int i = 0; dataChunks(fs) == before; i++) {
                assertTrue(i < 40, "no new data chunk after " + i * 8 + " MiB");
                rnd.nextBytes(part);
                ops.write(big, (long) i * part.length, ByteBuffer.wrap(part));
            }
            ops.write(ops.resolve("/sub/dir/file"), 4096, ByteBuffer.wrap(new byte[10_000]));
            ops.unlink(root, "random.bin");
            ops.rename(root, "numbers.txt", d, "numbers.txt", 0);
            ops.sync();
            ours = TreeListing.ofOperations(ops);
            boolean newChunk = false;
            for (FsInfo.BlockGroupSummary s : fs.blockGroups()) {
                if (s.type().equals("DATA") && s.profile().equals(newProfile)) newChunk = true;
            }
            assertTrue(newChunk, "no " + newProfile + " data chunk among " + fs.blockGroups());
        }
        Map<String, String> kernel = MemberSets.withKernelMount(present, dir, "degraded,ro", TreeListing::ofMount);
        assertEquals(List.of(), TreeListing.differences(ours, kernel, 10));
        Shell.Result check = MemberSets.check(present);
        assertEquals(0, check.exitCode(), check.output());
    }

    private static int dataChunks(Filesystem fs) throws Exception {
        int n = 0;
        for (FsInfo.BlockGroupSummary s : fs.blockGroups()) if (s.type().equals("DATA")) n += s.count();
        return n;
    }

    @Test
    void raid0MemberMissing_readWriteDegraded_refusedInOneLine() throws Exception {
        Images.requireKernelBtrfs();
        List<Path> set = MemberSets.mkfs(dir, 2, 128, "-d", "raid0", "-m", "raid1");
        FsException e = assertThrows(FsException.class, () -> Filesystem.open(set.get(0),
                MountOptions.readWriteDefaults().withDevices(List.of(), true)).close());
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().matches("too many devices missing even for -o degraded: the RAID0 chunk at "
                + "logical \\d+ lost 1 of 2 stripes and survives 0 \\(missing devids \\[2\\]\\)"), e.getMessage());
    }

    @Test
    void raid5MemberMissing_readWriteDegradedRefusedInOneLine_readOnlyDegradedOpens() throws Exception {
        Images.requireKernelBtrfs();
        List<Path> set = MemberSets.mkfs(dir, 3, 128, "-d", "raid5", "-m", "raid5");
        List<Path> others = List.of(set.get(1));
        FsException e = assertThrows(FsException.class, () -> Filesystem.open(set.get(0),
                MountOptions.readWriteDefaults().withDevices(others, true)).close());
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().matches("read-write degraded mounts of RAID5/6 chunks are not supported \\(the "
                + "RAID5 chunk at logical \\d+ lost a stripe\\): mount with -o degraded,ro"), e.getMessage());
        try (Filesystem fs = Filesystem.open(set.get(0), MountOptions.readOnlyDefaults().withDevices(others, true))) {
            assertTrue(fs.readOnly());
        }
    }
}
