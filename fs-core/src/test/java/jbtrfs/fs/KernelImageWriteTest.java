package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Scenarios;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Images the kernel wrote (compressed, reflinked, preallocated, subvolumes and snapshots, churn, extended refs):
 * we change them, btrfs check and the kernel accept the result; the kernel writes more, we write again, and both
 * still agree.
 */
class KernelImageWriteTest {
    @TempDir
    Path dir;

    static List<String> scenarios() { return Scenarios.NAMES; }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void kernelImage_ourWrites_kernelWrites_ourWritesAgain(String scenario) throws Exception {
        Path image = Images.kernelWritten(dir, scenario, 256);
        Random rnd = new Random(scenario.hashCode());
        for (int pass = 0; pass < 2; pass++) {
            int churned = pass;
            Map<String, String> ours = TreeListing.afterChanges(image, ops -> churn(ops, rnd, churned));
            BtrfsCheck.assertCleanWithData(image, scenario + " pass " + pass);
            assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10),
                    scenario + " pass " + pass);
            // the kernel writes on top of ours
            Path mnt = Files.createTempDirectory(dir, "kernel-again");
            Images.kernelScript(image, mnt, "mkdir -p kernel-" + pass + " && cp -r /usr/share/doc/bash kernel-" + pass
                    + "/ 2>/dev/null || true; echo again > kernel-" + pass + "/note; sync");
            BtrfsCheck.assertCleanWithData(image, scenario + " after the kernel, pass " + pass);
        }
    }

    /** Overwrites, appends, truncates, unlinks and new files wherever the tree is writable. */
    private static void churn(FsOperations ops, Random rnd, int pass) throws Exception {
        List<InodeId> files = new ArrayList<>();
        List<InodeId> dirs = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<InodeId> parents = new ArrayList<>();
        collect(ops, ops.root(), files, dirs, names, parents);
        for (int i = 0; i < files.size(); i++) {
            InodeId f = files.get(i);
            try {
                long size = ops.stat(f).size();
                switch (rnd.nextInt(6)) {
                    case 0 -> ops.write(f, size / 3, ByteBuffer.wrap(bytes(rnd, 5000)));
                    case 1 -> ops.write(f, size, ByteBuffer.wrap(bytes(rnd, 70000)));
                    case 2 -> ops.truncate(f, size / 2);
                    case 3 -> ops.unlink(parents.get(i), names.get(i));
                    case 4 -> ops.fallocate(f, FsOperations.FALLOC_FL_ZERO_RANGE | (rnd.nextBoolean()
                            ? FsOperations.FALLOC_FL_KEEP_SIZE : 0), size / 5, Math.max(1, size / 3 + 777));
                    default -> ops.fallocate(f, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE,
                            size / 4, Math.max(1, size / 4));
                }
            } catch (FsException e) {
                if (e.errno() != Errno.EOPNOTSUPP && e.errno() != Errno.EROFS) throw e;
                // inside a snapshotted or read-only subvolume: refused, nothing changed
            }
        }
        for (InodeId d : dirs) {
            try {
                InodeId n = ops.mknod(d, "ours-" + pass, Stat.S_IFREG | 0640, 0, 1, 2);
                ops.write(n, 0, ByteBuffer.wrap(bytes(rnd, rnd.nextInt(200_000))));
                ops.setXattr(n, "user.pass", new byte[] {(byte) pass}, 0);
            } catch (FsException e) {
                if (e.errno() != Errno.EOPNOTSUPP && e.errno() != Errno.EROFS) throw e;
                // as above
            }
        }
    }

    private static void collect(FsOperations ops, InodeId dir, List<InodeId> files, List<InodeId> dirs,
                                List<String> names, List<InodeId> parents) throws Exception {
        dirs.add(dir);
        for (DirEntry e : ops.readdir(dir, 0, 100_000)) {
            Stat st = ops.stat(e.id());
            if (st.isDirectory() && e.id().objectid() != 2) collect(ops, e.id(), files, dirs, names, parents);
            else if (st.isRegular()) {
                files.add(e.id());
                names.add(e.name());
                parents.add(dir);
            }
        }
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

}
