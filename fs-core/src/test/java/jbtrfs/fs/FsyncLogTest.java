package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;

/**
 * Our fsyncs as log trees, judged by the kernel: files committed once, then written, appended, overwritten,
 * truncated, punched and given xattrs with an fsync after each; the power goes without a commit (only what was
 * flushed survives), the kernel mounts the image, replays our log and must show every fsync'd byte and size, and
 * btrfs check must find nothing wrong after its replay.
 */
class FsyncLogTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"-O no-holes", "-O ^no-holes -R ^free-space-tree"})
    void fsyncsWithoutCommit_kernelReplaysOurLog_seesEveryFsyncedByte_checkClean(String mkfsOptions)
            throws Exception {
        Images.requireKernelBtrfs();
        Path base = Images.mkfs(dir, null, 160, mkfsOptions.split(" "));
        MemoryBlockDevice dev = PowerCuts.memoryDevice(Files.readAllBytes(base));
        Random rnd = new Random(19);
        Map<String, byte[]> want = new LinkedHashMap<>();
        long committedGeneration;
        Filesystem fs = PowerCuts.openOrNull(dev);
        FsOperations ops = fs.operations();
        InodeId root = ops.root();
        String[] names = {"append", "overwrite", "truncate", "punch", "small-appends", "xattr", "untouched"};
        for (String n : names) {
            InodeId f = ops.mknod(root, n, Stat.S_IFREG | 0644, 0, 0, 0);
            want.put(n, write(ops, f, 0, bytes(rnd, 300_000), null));
        }
        InodeId sub = ops.mkdir(root, "sub", 0755, 0, 0);
        ops.sync();
        committedGeneration = generation(dev.snapshot());

        // new inodes and a new name in directories of the last commit: the replay adds the names from the refs
        InodeId fresh = ops.mknod(root, "new-file", Stat.S_IFREG | 0600, 0, 0, 0);
        want.put("new-file", write(ops, fresh, 0, bytes(rnd, 100_000), null));
        ops.fsync(fresh, false);
        // an inline extent: the hole after it (no_holes) starts on the next sector, as the tree checker wants
        InodeId tiny = ops.mknod(root, "tiny", Stat.S_IFREG | 0644, 0, 0, 0);
        want.put("tiny", write(ops, tiny, 0, "marker 0\n".getBytes(StandardCharsets.UTF_8), null));
        ops.fsync(tiny, true);
        InodeId inner = ops.mknod(sub, "inner", Stat.S_IFREG | 0640, 0, 0, 0);
        want.put("sub/inner", write(ops, inner, 0, bytes(rnd, 3000), null));
        ops.fsync(inner, true);

        InodeId append = ops.lookup(root, "append");
        want.put("append", write(ops, append, 300_000, bytes(rnd, 70_000), want.get("append")));
        ops.fsync(append, false);
        InodeId overwrite = ops.lookup(root, "overwrite");
        want.put("overwrite", write(ops, overwrite, 123_457, bytes(rnd, 40_000), want.get("overwrite")));
        ops.fsync(overwrite, true);
        ops.link(overwrite, sub, "overwrite-link");
        want.put("sub/overwrite-link", want.get("overwrite"));
        ops.fsync(overwrite, false);
        InodeId truncate = ops.lookup(root, "truncate");
        ops.truncate(truncate, 77_777);
        want.put("truncate", Arrays.copyOf(want.get("truncate"), 77_777));
        ops.fsync(truncate, false);
        InodeId punch = ops.lookup(root, "punch");
        ops.fallocate(punch, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE, 8192, 65536);
        Arrays.fill(want.get("punch"), 8192, 8192 + 65536, (byte) 0);
        ops.fsync(punch, false);
        InodeId small = ops.lookup(root, "small-appends");
        for (int i = 0; i < 40; i++) {
            byte[] now = want.get("small-appends");
            want.put("small-appends", write(ops, small, now.length, bytes(rnd, 1000 + i), now));
            ops.fsync(small, true);
        }
        InodeId xattr = ops.lookup(root, "xattr");
        ops.setXattr(xattr, "user.logged", new byte[] {1, 9}, 0);
        want.put("xattr", write(ops, xattr, 5, bytes(rnd, 10), want.get("xattr")));
        ops.fsync(xattr, false);
        // the first file again: its second fsync in this transaction rewrites its log items
        want.put("append", write(ops, append, 4096, bytes(rnd, 8192), want.get("append")));
        ops.fsync(append, false);

        Map<String, String> attributes = new LinkedHashMap<>();
        for (String n : want.keySet()) attributes.put(n, attributes(ops.stat(ops.resolve("/" + n))));
        Path image = dir.resolve("cut.img");
        Files.write(image, dev.powerCut(7));
        assertEquals(committedGeneration, generation(Files.readAllBytes(image)), "the fsyncs did not commit");
        assertNotEquals(0L, logRoot(Files.readAllBytes(image)), "the superblock names our log");
        Path mnt = Files.createTempDirectory(dir, "kernel");
        Images.withKernelMount(image, mnt, "", () -> {
            for (Map.Entry<String, byte[]> e : want.entrySet()) {
                assertArrayEquals(e.getValue(), Files.readAllBytes(mnt.resolve(e.getKey())),
                        e.getKey() + " after the kernel replayed our log");
            }
            for (String n : want.keySet()) {
                assertEquals(attributes.get(n), Shell.sh("stat -c '%s %b %h %f %u %g %.9Y %.9Z' " + n, mnt).trim(),
                        n + ": size, blocks, links, mode, owner, mtime, ctime after the kernel replayed our log");
            }
            UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(mnt.resolve("xattr"),
                    UserDefinedFileAttributeView.class);
            ByteBuffer value = ByteBuffer.allocate(16);
            xattrs.read("logged", value);
            assertArrayEquals(new byte[] {1, 9}, Arrays.copyOf(value.array(), value.position()), "the logged xattr");
            return null;
        });
        assertEquals(0L, logRoot(Files.readAllBytes(image)), "the kernel's mount replayed and dropped the log");
        BtrfsCheck.assertCleanWithData(image, "after the kernel replayed our log");
    }

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"-O no-holes", "-O ^no-holes"})
    void fsyncOfBigFragmentedFile_holesAcrossLeaves_kernelReplaysThem(String mkfsOptions) throws Exception {
        Images.requireKernelBtrfs();
        Path base = Images.mkfs(dir, null, 160, mkfsOptions.split(" "));
        MemoryBlockDevice dev = PowerCuts.memoryDevice(Files.readAllBytes(base));
        Random rnd = new Random(1917);
        Filesystem fs = PowerCuts.openOrNull(dev);
        FsOperations ops = fs.operations();
        InodeId f = ops.mknod(ops.root(), "big", Stat.S_IFREG | 0644, 0, 0, 0);
        // 1,500 extents of one sector, one sector apart: seven leaves of file extent items
        byte[] want = null;
        for (int i = 0; i < 1500; i++) want = write(ops, f, i * 8192L, bytes(rnd, 4096), want);
        ops.sync();
        long committedGeneration = generation(dev.snapshot());
        // changes in different leaves, an fsync after each: each log copies what moved since the one before
        long[][] punches = {{8192L * 300, 8192L * 600}, {8192L * 1000 + 1024, 2048}, {8192L * 1490, 8192L * 10}};
        for (int round = 0; round < 3; round++) {
            long[] p = punches[round];
            ops.fallocate(f, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE, p[0], p[1]);
            Arrays.fill(want, (int) p[0], (int) Math.min(want.length, p[0] + p[1]), (byte) 0);
            ops.fsync(f, round == 1);
            long at = round == 2 ? want.length : 8192L * (100 + 550 * round) + 100;
            want = write(ops, f, at, bytes(rnd, 20_000), want);
            ops.fsync(f, false);
        }
        String stat = attributes(ops.stat(f));

        Path image = dir.resolve("cut.img");
        Files.write(image, dev.powerCut(3));
        assertEquals(committedGeneration, generation(Files.readAllBytes(image)), "the fsync did not commit");
        Path mnt = Files.createTempDirectory(dir, "kernel");
        byte[] expected = want;
        Images.withKernelMount(image, mnt, "", () -> {
            assertArrayEquals(expected, Files.readAllBytes(mnt.resolve("big")), "after the kernel replayed our log");
            assertEquals(stat, Shell.sh("stat -c '%s %b %h %f %u %g %.9Y %.9Z' big", mnt).trim());
            return null;
        });
        BtrfsCheck.assertCleanWithData(image, "after the kernel replayed our log");
    }

    /** What stat(1) shows of {@code st} in the format above. */
    private static String attributes(Stat st) {
        return String.format("%d %d %d %x %d %d %d.%09d %d.%09d", st.size(), st.blocks(), st.nlink(), st.mode(),
                st.uid(), st.gid(), st.mtime().sec(), st.mtime().nsec(), st.ctime().sec(), st.ctime().nsec());
    }

    /** Writes {@code data} at {@code at}; returns the file's model ({@code before}, null for none) with it. */
    static byte[] write(FsOperations ops, InodeId f, long at, byte[] data, byte[] before) throws Exception {
        ops.write(f, at, ByteBuffer.wrap(data));
        byte[] now = before == null ? new byte[0] : before;
        if (at + data.length > now.length) now = Arrays.copyOf(now, (int) (at + data.length));
        System.arraycopy(data, 0, now, (int) at, data.length);
        return now;
    }

    static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static long generation(byte[] image) {
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN)
                .getLong((int) SuperBlock.MIRROR_OFFSETS[0] + SuperBlock.OFFSET_GENERATION);
    }

    private static long logRoot(byte[] image) {
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN)
                .getLong((int) SuperBlock.MIRROR_OFFSETS[0] + SuperBlock.OFFSET_LOG_ROOT);
    }
}
