package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.Errno;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * Scrub and read-repair held to the kernel's: its scrub's counters on the same image (`btrfs scrub start -B -R`
 * on a read-only loop mount), btrfs-map-logical's copies, and the kernel's scrub after ours repaired.
 */
class ScrubTest {
    private static final int NODESIZE = 16384;
    private static final int SECTORSIZE = 4096;

    @TempDir
    Path tmp;

    /** Files of several extents, small inline ones, a directory, and DUP metadata (mkfs' default). */
    private Path image(String... options) throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src" + System.nanoTime()));
        Random r = new Random(11);
        for (int i = 0; i < 3; i++) {
            byte[] b = new byte[200_000 + 70_000 * i];
            r.nextBytes(b);
            Files.write(src.resolve("file" + i), b);
        }
        Path dir = Files.createDirectory(src.resolve("dir"));
        for (int i = 0; i < 300; i++) Files.writeString(dir.resolve("small-" + i + "-" + "x".repeat(50)), "s" + i);
        return Images.mkfs(tmp, src, 256, options);
    }

    private static ScrubStatus scrub(Path image, boolean readWrite, boolean readOnlyScrub) throws Exception {
        try (Filesystem fs = Filesystem.open(image, readWrite ? MountOptions.readWriteDefaults()
                : MountOptions.readOnlyDefaults())) {
            Scrubber s = fs.operations().scrubber();
            s.start(s.devid(), 0, -1, readOnlyScrub);
            return s.await();
        }
    }

    /** The kernel's scrub of a copy of {@code image} (read-only loop mount, -r): its raw counters by name. */
    private Map<String, Long> kernelScrub(Path image) throws Exception {
        Images.requireKernelBtrfs();
        Path copy = tmp.resolve("kernel-" + System.nanoTime() + ".img");
        Files.copy(image, copy, StandardCopyOption.REPLACE_EXISTING);
        Path mnt = Files.createTempDirectory(tmp, "mnt");
        String out = Images.withKernelMount(copy, mnt, "ro", () -> Shell.sh("btrfs scrub start -B -R -r " + mnt
                + " || true"));
        Map<String, Long> m = new HashMap<>();
        Matcher x = Pattern.compile("(?m)^\\s+(\\w+): (\\d+)$").matcher(out);
        while (x.find()) m.put(x.group(1), Long.parseLong(x.group(2)));
        assertTrue(m.containsKey("tree_bytes_scrubbed"), "kernel scrub output: " + out);
        return m;
    }

    private static void assertCountersEqual(Map<String, Long> kernel, ScrubProgress p, String... fields) {
        Map<String, Long> ours = new HashMap<>();
        long[] a = p.toArray();
        String[] names = ALL; // struct btrfs_scrub_progress in its order, as btrfs scrub -R names them
        for (int i = 0; i < names.length; i++) ours.put(names[i], a[i]);
        for (String f : fields) {
            assertEquals(kernel.get(f), ours.get(f), f + " (kernel " + kernel + ", ours " + ours + ")");
        }
    }

    private static final String[] ALL = {"data_extents_scrubbed", "tree_extents_scrubbed", "data_bytes_scrubbed",
        "tree_bytes_scrubbed", "read_errors", "csum_errors", "verify_errors", "no_csum", "csum_discards",
        "super_errors", "malloc_errors", "uncorrectable_errors", "corrected_errors", "last_physical",
        "unverified_errors"};

    @ParameterizedTest(name = "{0}")
    @MethodSource("jbtrfs.testing.MkfsVariants#arguments")
    void scrubOfCleanImage_countsAsTheKernelsScrub(String variant, String[] options) throws Exception {
        Path image = image(options);
        Map<String, Long> kernel = kernelScrub(image);
        ScrubStatus s = scrub(image, false, true);
        assertEquals(ScrubStatus.State.FINISHED, s.state());
        assertCountersEqual(kernel, s.progress(), ALL);
        assertTrue(s.progress().treeBytesScrubbed() > 0 && s.progress().dataBytesScrubbed() > 0);
        assertEquals(List.of(), s.uncorrectable());
    }

    @Test
    void scrubOfKernelWrittenImage_countsAsTheKernelsScrub() throws Exception {
        // prealloc, NODATASUM (+C) and compressed extents, and a snapshot sharing them
        Path image = Images.kernelWritten(tmp, 256, ",compress=zstd", String.join("\n", "set +o pipefail",
                "head -c 300000 /dev/urandom > a", "yes hello | head -c 500000 > z", "fallocate -l 1M pre",
                "mkdir nocow && chattr +C nocow && head -c 200000 /dev/urandom > nocow/f",
                "btrfs subvolume snapshot . snap >/dev/null", "sync"));
        Map<String, Long> kernel = kernelScrub(image);
        ScrubStatus s = scrub(image, false, true);
        assertCountersEqual(kernel, s.progress(), ALL);
        assertTrue(s.progress().noCsum() > 0, "the nocow file and the prealloc extent have no checksums");
    }

    @Test
    void flippedByteInOneDupCopyOfATreeBlock_isRepaired() throws Exception {
        Path image = image();
        long leaf = ImageDamage.treeRoot(image, "5");
        List<Long> copies = ImageDamage.physicalCopies(image, leaf);
        assertEquals(2, copies.size(), "DUP metadata has two copies");
        ImageDamage.flipByte(image, copies.get(1) + 3000);
        Map<String, Long> kernel = kernelScrub(image);

        ScrubStatus s = scrub(image, true, false);

        int sectors = NODESIZE / SECTORSIZE;
        assertEquals(sectors, s.progress().verifyErrors());
        assertEquals(sectors, s.progress().correctedErrors());
        assertEquals(0, s.progress().uncorrectableErrors());
        assertCountersEqual(kernel, s.progress(), "verify_errors", "corrected_errors", "uncorrectable_errors",
                "tree_bytes_scrubbed", "data_bytes_scrubbed");
        assertArrayEquals(bytes(image, copies.get(0), NODESIZE), bytes(image, copies.get(1), NODESIZE),
                "both copies identical after the repair");
        Map<String, Long> after = kernelScrub(image);
        for (String f : List.of("read_errors", "csum_errors", "verify_errors", "uncorrectable_errors",
                "corrected_errors", "super_errors")) {
            assertEquals(0L, after.get(f), "the kernel's scrub after ours: " + after);
        }
        BtrfsCheck.assertClean(image, "after the scrub's repair");
    }

    /** Flips a byte in the first copy of the FS tree's root block; returns the copies' physical offsets. */
    private static List<Long> damageFirstCopyOfTheFsRoot(Path image) throws Exception {
        List<Long> copies = ImageDamage.physicalCopies(image, ImageDamage.treeRoot(image, "5"));
        ImageDamage.flipByte(image, copies.get(0) + 3000);
        return copies;
    }

    @Test
    void readOnlyScrub_reportsTheBadCopyWithoutWriting() throws Exception {
        Path image = image();
        List<Long> copies = damageFirstCopyOfTheFsRoot(image);
        byte[] bad = bytes(image, copies.get(0), NODESIZE);

        ScrubStatus s = scrub(image, false, true);

        assertEquals(NODESIZE / SECTORSIZE, s.progress().verifyErrors());
        assertEquals(0, s.progress().uncorrectableErrors());
        assertArrayEquals(bad, bytes(image, copies.get(0), NODESIZE), "a read-only scrub writes nothing");
    }

    @Test
    void flippedByteInSingleData_isUncorrectableWithTheFilesPath() throws Exception {
        Path image = image();
        long logical = ImageDamage.firstExtentOf(image, "file1");
        ImageDamage.flipByte(image, ImageDamage.physical(image, logical) + 2 * SECTORSIZE + 17);
        Map<String, Long> kernel = kernelScrub(image);

        ScrubStatus s = scrub(image, true, false);

        assertEquals(1, s.progress().csumErrors());
        assertEquals(1, s.progress().uncorrectableErrors());
        assertCountersEqual(kernel, s.progress(), ALL);
        assertEquals(List.of("logical " + (logical + 2 * SECTORSIZE) + ": file1 (subvolume 5, inode "
                + ImageDamage.inodeOf(image, "file1") + ")"), s.uncorrectable());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.resolve("/file1");
            assertErrno(Errno.EIO, () -> ops.read(f, 2 * SECTORSIZE, ByteBuffer.allocate(100)));
            assertEquals(2 * SECTORSIZE, ops.read(f, 0, ByteBuffer.allocate(2 * SECTORSIZE)));
        }
    }

    @Test
    void uncorrectableDataOfASnapshottedFile_namesTheFileInEverySubvolume() throws Exception {
        Path image = Images.kernelWritten(tmp, 256, "", String.join("\n", "mkdir d",
                "head -c 100000 /dev/urandom > d/a", "btrfs subvolume create sv >/dev/null",
                "head -c 100000 /dev/urandom > sv/b", "cp --reflink=always d/a sv/c",
                "btrfs subvolume snapshot . snap >/dev/null", "btrfs subvolume snapshot sv sv/inner >/dev/null",
                "sync"));
        // sv is subvolume 256 (b inode 257, c 258), snap 257, sv/inner 258: the file's extent is referenced from
        // the top level and sv (the reflink), and, through the leaves they share, from snap and sv/inner
        long a = ImageDamage.firstExtentOf(image, "a");
        ImageDamage.flipByte(image, ImageDamage.physical(image, a) + 100);
        long inode = ImageDamage.inodeOf(image, "a");

        ScrubStatus s = scrub(image, false, true);

        assertEquals(1, s.progress().uncorrectableErrors());
        assertEquals(List.of("logical " + a + ": d/a (subvolume 5, inode " + inode + ")",
                "logical " + a + ": sv/c (subvolume 256, inode 258)",
                "logical " + a + ": snap/d/a (subvolume 257, inode " + inode + ")",
                "logical " + a + ": sv/inner/c (subvolume 258, inode 258)"), s.uncorrectable());
    }

    @Test
    void readOfABadDupCopy_writesTheGoodOneBack() throws Exception {
        Path image = image("-d", "dup");
        List<Long> leaves = ImageDamage.leaves(image, "5");
        // a leaf of dir's entries, read by the walk below (the last one is read at open: the orphan items' place)
        long leaf = leaves.get(leaves.size() / 2);
        List<Long> leafCopies = ImageDamage.physicalCopies(image, leaf);
        ImageDamage.flipByte(image, leafCopies.get(0) + 3000);
        long data = ImageDamage.firstExtentOf(image, "file2");
        List<Long> dataCopies = ImageDamage.physicalCopies(image, data);
        assertEquals(2, dataCopies.size(), "-d dup keeps two copies of data");
        ImageDamage.flipByte(image, dataCopies.get(0) + 5);
        byte[] want;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            FsOperations ops = fs.operations();
            InodeId dir = ops.resolve("/dir");
            for (DirEntry d : ops.readdir(dir, 0, 1000)) ops.stat(d.id());
            InodeId f = ops.resolve("/file2");
            want = new byte[(int) ops.stat(f).size()];
            assertEquals(want.length, ops.read(f, 0, ByteBuffer.wrap(want)));
            assertEquals(2, fs.stats().readRepairs(), "the leaf and the data range");
        }
        assertArrayEquals(bytes(image, leafCopies.get(1), NODESIZE), bytes(image, leafCopies.get(0), NODESIZE));
        assertArrayEquals(bytes(image, dataCopies.get(1), SECTORSIZE), bytes(image, dataCopies.get(0), SECTORSIZE));
        ScrubStatus s = scrub(image, false, true);
        assertEquals(0, s.progress().verifyErrors() + s.progress().csumErrors(), "nothing left to find");
    }

    @Test
    void badCopiesReadAtOpen_areWrittenBackByAReadWriteOpen() throws Exception {
        Path image = image();
        // the root tree's and the chunk tree's roots are read before the mount knows it may write
        List<Long> rootTree = ImageDamage.physicalCopies(image, ImageDamage.treeRoot(image, "root"));
        List<Long> chunkTree = ImageDamage.physicalCopies(image, ImageDamage.treeRoot(image, "chunk"));
        ImageDamage.flipByte(image, rootTree.get(0) + 3000);
        ImageDamage.flipByte(image, chunkTree.get(0) + 3000);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertEquals(0, fs.stats().readRepairs(), "a read-only open writes nothing");
        }
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            assertEquals(2, fs.stats().readRepairs(), "both roots, once the open knows it may write");
            // checked while mounted: a commit at close may free the old roots and reuse their place
            assertArrayEquals(bytes(image, rootTree.get(1), NODESIZE), bytes(image, rootTree.get(0), NODESIZE));
            assertArrayEquals(bytes(image, chunkTree.get(1), NODESIZE), bytes(image, chunkTree.get(0), NODESIZE));
        }
        BtrfsCheck.assertClean(image, "after the repairs at open");
    }

    @Test
    void readOnlyMount_readsABadCopyWithoutWriting() throws Exception {
        Path image = image();
        List<Long> copies = damageFirstCopyOfTheFsRoot(image);
        byte[] bad = bytes(image, copies.get(0), NODESIZE);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            fs.operations().readdir(fs.operations().root(), 0, 100);
            assertEquals(0, fs.stats().readRepairs());
            assertErrno(Errno.EROFS, () -> fs.operations().scrubber().start(1, 0, -1, false));
        }
        assertArrayEquals(bad, bytes(image, copies.get(0), NODESIZE));
    }

    @Test
    void scrubBesideWrites_findsNothingAndTheImageStaysClean() throws Exception {
        Path image = image();
        ScrubStatus s;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            FsOperations ops = fs.operations();
            Scrubber scrubber = ops.scrubber();
            scrubber.start(scrubber.devid(), 0, -1, false);
            assertErrno(Errno.EINPROGRESS, () -> scrubber.start(scrubber.devid(), 0, -1, false));
            Random r = new Random(3);
            List<InodeId> made = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                InodeId f = ops.mknod(ops.root(), "new" + i, 0100644, 0, 0, 0);
                byte[] b = new byte[30_000];
                r.nextBytes(b);
                ops.write(f, 0, ByteBuffer.wrap(b));
                made.add(f);
                if (i % 10 == 9) ops.sync();
                if (i == 7) ops.unlink(ops.root(), "file0");
            }
            s = scrubber.await();
        }
        assertEquals(ScrubStatus.State.FINISHED, s.state());
        assertEquals(0, s.progress().verifyErrors() + s.progress().csumErrors() + s.progress().readErrors()
                + s.progress().uncorrectableErrors() + s.progress().superErrors(), s.progress().toString());
        BtrfsCheck.assertCleanWithData(image, "scrub beside writes");
    }

    private static byte[] bytes(Path image, long offset, int length) throws Exception {
        byte[] b = new byte[length];
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "r")) {
            raf.seek(offset);
            raf.readFully(b);
        }
        return b;
    }
}
