package jbtrfs.spacecache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * The v1 space cache against its two judges: `btrfs check`, which loads every cache and compares it range by range
 * with the extent tree, and the kernel, which loads our caches (fstrim makes it cache every block group) and must
 * not discard one. Then the other way round: caches the kernel wrote are loaded by us, and a damaged one is not.
 */
class SpaceCacheV1Test {
    private static final String[] V1 = {"-R", "^free-space-tree"};
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void spreadWritesAndDeletes_everyCacheExact_kernelLoadsThem_weLoadTheKernels() throws Exception {
        Path image = Images.mkfs(dir, null, 3072, V1);
        Random rnd = new Random(7);
        Map<String, byte[]> model = new TreeMap<>();
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            // fill across several data block groups, delete every other file, fill again: many groups per commit
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 24; i++) {
                    String name = "r" + round + "-" + i;
                    byte[] data = new byte[(1 + rnd.nextInt(24)) * MIB + rnd.nextInt(5000)];
                    rnd.nextBytes(data);
                    InodeId f = ops.mknod(ops.root(), name, Stat.S_IFREG | 0644, 0, 0, 0);
                    ops.write(f, 0, ByteBuffer.wrap(data));
                    model.put(name, data);
                }
                List<String> names = new ArrayList<>(model.keySet());
                for (int i = round; i < names.size(); i += 2) {
                    ops.unlink(ops.root(), names.get(i));
                    model.remove(names.get(i));
                }
                ops.sync();
            }
            assertTrue(fs.commits() >= 3);
        }
        BtrfsCheck.assertCleanWithData(image, "after our writes");
        Map<Long, SpaceCacheLoader.Result> ours = cachesAt(image);
        assertTrue(ours.size() >= 3, "block groups with caches: " + ours);
        ours.values().forEach(r -> assertEquals(SpaceCacheLoader.State.VALID, r.state(), r.toString()));

        Images.requireRootAndLoop();
        String kernelLog = kernelWrites(image, "cp -a /usr/include/linux kernel-copy && rm -f r0-*");
        assertEquals("", kernelLog, "the kernel discarded a cache of ours");
        BtrfsCheck.assertCleanWithData(image, "after the kernel's writes");
        Map<Long, SpaceCacheLoader.Result> kernels = cachesAt(image);
        assertTrue(kernels.values().stream().anyMatch(r -> r.state() == SpaceCacheLoader.State.VALID));
        kernels.values().forEach(r -> assertTrue(r.state() != SpaceCacheLoader.State.INVALID, r.toString()));

        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            for (String name : new ArrayList<>(model.keySet())) {
                if (name.startsWith("r0-")) {
                    model.remove(name);
                    continue;
                }
                byte[] got = new byte[model.get(name).length];
                ops.read(ops.resolve("/" + name), 0, ByteBuffer.wrap(got));
                assertArrayEquals(model.get(name), got, name);
            }
            InodeId f = ops.mknod(ops.root(), "after-kernel", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] data = new byte[40 * MIB];
            rnd.nextBytes(data);
            ops.write(f, 0, ByteBuffer.wrap(data));
            ops.unlink(ops.root(), model.keySet().iterator().next());
        }
        BtrfsCheck.assertCleanWithData(image, "after our second writes");
        cachesAt(image).values().forEach(r -> assertEquals(SpaceCacheLoader.State.VALID, r.state(), r.toString()));
        assertEquals("", kernelWrites(image, "true"), "the kernel discarded a cache of ours");
    }

    @Test
    void flippedByteInACachePage_detectedRebuiltAndRewritten() throws Exception {
        Path image = Images.mkfs(dir, null, 2048, V1);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "a", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(new byte[150 * MIB]));
        }
        Map<Long, long[]> files = cacheFiles(image);
        assertTrue(!files.isEmpty());
        long bg = files.keySet().iterator().next();
        long physical = physical(image, files.get(bg)[0]);
        int numPages = (int) (files.get(bg)[1] / SpaceCachePages.PAGE);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // a byte of the first entry
            long at = physical + 4L * numPages + 8 + 3;
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x40)).rewind();
            ch.write(b, at);
        }
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            SpaceCacheLoader.Result r = fs.spaceCachesAtMount().get(bg);
            assertEquals(SpaceCacheLoader.State.INVALID, r.state());
            assertTrue(r.why().contains("crc mismatch"), r.why());
            FsOperations ops = fs.operations();
            ops.mknod(ops.root(), "b", Stat.S_IFREG | 0644, 0, 0, 0);
        }
        BtrfsCheck.assertClean(image, "after the rebuild");
        cachesAt(image).values().forEach(r -> assertEquals(SpaceCacheLoader.State.VALID, r.state(), r.toString()));
    }

    /** The caches a read-write open finds (the open changes nothing by itself). */
    private static Map<Long, SpaceCacheLoader.Result> cachesAt(Path image) throws Exception {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            return new TreeMap<>(fs.spaceCachesAtMount());
        }
    }

    /**
     * Mounts with the kernel (space_cache=v1), makes it load every group's cache (fstrim), runs {@code script}
     * there, unmounts; returns the kernel's complaints about space caches in between.
     */
    private String kernelWrites(Path image, String script) throws Exception {
        Path mnt = Files.createTempDirectory(dir, "kernel");
        String marker = "jbtrfs-test-" + System.nanoTime();
        Shell.sh("echo " + marker + " > /dev/kmsg");
        Shell.sh("mount -o loop,space_cache=v1 " + image + " " + mnt);
        try {
            Shell.sh("fstrim " + mnt + " && cd " + mnt + " && " + script + " && sync");
        } finally {
            Shell.sh("umount " + mnt);
        }
        String log = Shell.sh("dmesg");
        log = log.substring(Math.max(0, log.lastIndexOf(marker)));
        StringBuilder bad = new StringBuilder();
        for (String line : log.split("\n")) {
            if (line.contains("space cache") && line.contains("deprecated")) continue;
            if (line.contains("free space cache") || line.contains("wrong amount of free space")
                    || line.contains("space cache generation") || line.contains("csum mismatch")) {
                bad.append(line).append('\n');
            }
        }
        return bad.toString();
    }

    /** Each block group's cache file as dump-tree shows it: {extent logical, size}. */
    static Map<Long, long[]> cacheFiles(Path image) throws Exception {
        String dump = Shell.sh("btrfs inspect-internal dump-tree -t root " + image);
        Map<Long, Long> inodeOfGroup = new TreeMap<>();
        Matcher h = Pattern.compile("key \\(FREE_SPACE UNTYPED (\\d+)\\)[^\\n]*\\n\\s*location key \\((\\d+) INODE_ITEM")
                .matcher(dump);
        while (h.find()) inodeOfGroup.put(Long.parseLong(h.group(1)), Long.parseLong(h.group(2)));
        Map<Long, long[]> extentOfInode = new TreeMap<>();
        Matcher e = Pattern.compile("key \\((\\d+) EXTENT_DATA 0\\)[^\\n]*\\n[^\\n]*\\n\\s*extent data disk byte (\\d+) "
                + "nr (\\d+)").matcher(dump);
        while (e.find()) {
            extentOfInode.put(Long.parseLong(e.group(1)), new long[] {Long.parseLong(e.group(2)),
                    Long.parseLong(e.group(3))});
        }
        Map<Long, long[]> out = new TreeMap<>();
        inodeOfGroup.forEach((bg, ino) -> {
            if (extentOfInode.containsKey(ino)) out.put(bg, extentOfInode.get(ino));
        });
        return out;
    }

    /** The first copy's physical offset of {@code logical} (btrfs-map-logical). */
    static long physical(Path image, long logical) throws Exception {
        Matcher m = Pattern.compile("mirror 1 logical \\d+ physical (\\d+)")
                .matcher(Shell.sh("btrfs-map-logical -l " + logical + " " + image));
        assertTrue(m.find());
        return Long.parseLong(m.group(1));
    }
}
