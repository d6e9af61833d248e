package jbtrfs.spacecache;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.MountOptions.SpaceCache;
import jbtrfs.fs.Stat;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/** space_cache=v1|v2, nospace_cache and clear_cache as the kernel's mount options behave. */
class SpaceCacheOptionsTest {
    @TempDir
    Path dir;

    @Test
    void freeSpaceTreeImage_cannotBeTurnedToV1_mountsReadOnly() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        for (MountOptions o : new MountOptions[] {MountOptions.readWriteDefaults().withSpaceCache(SpaceCache.V1, false),
                MountOptions.readWriteDefaults().withSpaceCache(SpaceCache.NONE, false)}) {
            FsException e = assertErrno(Errno.EINVAL, () -> Filesystem.open(image, o));
            assertTrue(e.getMessage().contains("free-space tree"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count());
        }
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults()
                .withSpaceCache(SpaceCache.V2, false))) {
            assertFalse(fs.readOnly());
        }
    }

    @Test
    void v1Image_spaceCacheV2_createsTheFreeSpaceTreeAndRemovesTheCaches_asTheKernel() throws Exception {
        Path image = Images.mkfs(dir, null, 2048, "-R", "^free-space-tree");
        write(image, MountOptions.readWriteDefaults(), 150);
        assertFalse(SpaceCacheV1Test.cacheFiles(image).isEmpty());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withSpaceCache(SpaceCache.V2, false))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "after", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(new byte[5 << 20]));
            ops.sync();
        }
        String sb = Shell.sh("btrfs inspect-internal dump-super " + image);
        assertTrue(sb.matches("(?s).*compat_ro_flags\\s+0x3\\b.*"), sb);
        assertTrue(sb.matches("(?s).*cache_generation\\s+0\\n.*"), sb);
        String root = Shell.sh("btrfs inspect-internal dump-tree -t root " + image);
        assertFalse(root.contains("FREE_SPACE UNTYPED"), root);
        assertTrue(root.contains("FREE_SPACE_TREE ROOT_ITEM"), root);
        BtrfsCheck.assertCleanWithData(image, "after the conversion");
        // now an image with the tree: the default mount keeps it
        write(image, MountOptions.readWriteDefaults(), 20);
        BtrfsCheck.assertCleanWithData(image, "after writes to the converted image");
        Map<String, String> ours;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            ours = TreeListing.ofOperations(fs.operations());
        }
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    @Test
    void freeSpaceTreeImage_clearCache_rebuildsEveryGroupsItemsAtMount() throws Exception {
        Path image = Images.mkfs(dir, null, 1024);
        write(image, MountOptions.readWriteDefaults(), 60);
        long before = fstGeneration(image);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withSpaceCache(null, true))) {
            assertFalse(fs.readOnly());
        }
        long generation = Long.parseLong(Shell.sh("btrfs inspect-internal dump-super " + image)
                .replaceAll("(?s).*\\ngeneration\\s+(\\d+).*", "$1"));
        // the rebuild's commit rewrote the tree (its root moved to this generation), and check agrees with it
        assertTrue(generation > before);
        assertEquals(generation, fstGeneration(image));
        BtrfsCheck.assertCleanWithData(image, "after clear_cache");
    }

    private static long fstGeneration(Path image) throws Exception {
        String root = Shell.sh("btrfs inspect-internal dump-tree -t root " + image);
        return Long.parseLong(root.replaceAll("(?s).*FREE_SPACE_TREE ROOT_ITEM 0\\)[^\\n]*\\n\\s*generation (\\d+).*",
                "$1"));
    }

    @Test
    void nospaceCache_writesNoCacheAndLeavesTheCacheGeneration() throws Exception {
        Path image = Images.mkfs(dir, null, 1024, "-R", "^free-space-tree");
        write(image, MountOptions.readWriteDefaults().withSpaceCache(SpaceCache.NONE, false), 120);
        String dump = Shell.sh("btrfs inspect-internal dump-tree -t root " + image);
        assertFalse(dump.contains("FREE_SPACE"), dump);
        assertTrue(Shell.sh("btrfs inspect-internal dump-super " + image).matches(
                "(?s).*cache_generation\\s+18446744073709551615.*"));
        BtrfsCheck.assertCleanWithData(image, "nospace_cache");
    }

    @Test
    void clearCache_distrustsEveryCacheAndWritesNewOnes() throws Exception {
        Path image = Images.mkfs(dir, null, 2048, "-R", "^free-space-tree");
        write(image, MountOptions.readWriteDefaults(), 150);
        assertFalse(SpaceCacheV1Test.cacheFiles(image).isEmpty());
        Map<Long, long[]> before = SpaceCacheV1Test.cacheFiles(image);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withSpaceCache(null, true))) {
            assertFalse(fs.spaceCachesAtMount().isEmpty());
            fs.spaceCachesAtMount().values().forEach(r -> {
                assertEquals(SpaceCacheLoader.State.INVALID, r.state());
                assertTrue(r.why().contains("clear_cache"), r.why());
            });
            FsOperations ops = fs.operations();
            ops.mknod(ops.root(), "touch", Stat.S_IFREG | 0644, 0, 0, 0);
        }
        // every cache was written again, to new extents
        Map<Long, long[]> after = SpaceCacheV1Test.cacheFiles(image);
        assertEquals(before.keySet(), after.keySet());
        before.forEach((bg, f) -> assertTrue(f[0] != after.get(bg)[0], "cache of " + bg + " not rewritten"));
        BtrfsCheck.assertClean(image, "after clear_cache");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults())) {
            fs.spaceCachesAtMount().values().forEach(r -> assertEquals(SpaceCacheLoader.State.VALID, r.state()));
        }
    }

    private static void write(Path image, MountOptions options, int mib) throws Exception {
        try (Filesystem fs = Filesystem.open(image, options.withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "data-" + System.nanoTime(), Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(new byte[mib << 20]));
        }
    }
}
