package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.TreeListing;

/**
 * Random changes through fs-core against an in-memory model, on each mkfs variant the issue names, with commits
 * between rounds; after unmount `btrfs check` is clean, our read path and the kernel's show the same tree, and
 * every file's bytes equal the model's.
 */
class WriteWorkloadTest {
    @TempDir
    Path dir;

    /** mkfs options, then after " | " a compression type to mount with (suffix -force for compress-force). */
    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"", "--csum xxhash", "--csum sha256", "--csum blake2", "-n 4096", "-n 65536", "-M",
            "-O ^no-holes", "-O ^skinny-metadata", "-n 4096 | zstd", "-O ^no-holes | zlib-force", "-M | lzo"})
    void randomWorkload_checkClean_kernelAgrees(String variant) throws Exception {
        String mkfsOptions = variant.split(" ?\\| ")[0];
        String[] opts = mkfsOptions.isEmpty() ? new String[0] : mkfsOptions.split(" ");
        Path image = Images.mkfs(dir, null, 512, opts);
        Map<String, byte[]> model = new TreeMap<>();
        Map<String, String> listing;
        Random rnd = new Random(variant.hashCode());
        MountOptions.Compression compress = null;
        if (variant.contains("| ")) {
            String c = variant.substring(variant.indexOf("| ") + 2);
            compress = new MountOptions.Compression(CompressionType.valueOf(
                    c.replace("-force", "").toUpperCase()), 3, c.endsWith("-force"));
        }
        try (Filesystem fs = Filesystem.open(image,
                MountOptions.readWriteDefaults().withCommitSeconds(0).withCompression(compress))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            List<InodeId> dirs = new ArrayList<>(List.of(root));
            List<String> dirNames = new ArrayList<>(List.of(""));
            for (int i = 0; i < 8; i++) {
                InodeId parent = dirs.get(rnd.nextInt(dirs.size()));
                String pname = dirNames.get(dirs.indexOf(parent));
                dirs.add(ops.mkdir(parent, "d" + i, 0755, i, i));
                dirNames.add(pname + "/d" + i);
            }
            for (int round = 0; round < 4; round++) {
                for (int op = 0; op < 150; op++) {
                    int which = rnd.nextInt(dirs.size());
                    InodeId d = dirs.get(which);
                    String name = "f" + rnd.nextInt(60);
                    String path = dirNames.get(which) + "/" + name;
                    InodeId f = lookupOrNull(ops, d, name);
                    int kind = rnd.nextInt(10);
                    if (f == null) {
                        f = ops.mknod(d, name, Stat.S_IFREG | 0644, 0, 0, 0);
                        model.put(path, new byte[0]);
                    }
                    byte[] cur = model.get(path);
                    if (kind < 5) {
                        int len = rnd.nextInt(4) == 0 ? rnd.nextInt(600_000) : rnd.nextInt(9000);
                        long off = rnd.nextInt(3) == 0 ? cur.length : rnd.nextInt(Math.max(1, cur.length + 20000));
                        byte[] data = new byte[len];
                        // compressible or not: under a compress option both kinds of extent meet in one file
                        if (rnd.nextBoolean()) data = CompressedWriteTest.text(rnd, len);
                        else rnd.nextBytes(data);
                        ops.write(f, off, ByteBuffer.wrap(data));
                        byte[] next = Arrays.copyOf(cur, (int) Math.max(cur.length, off + len));
                        System.arraycopy(data, 0, next, (int) off, len);
                        model.put(path, next);
                    } else if (kind < 7) {
                        int size = rnd.nextInt(Math.max(1, cur.length * 2 + 100));
                        ops.truncate(f, size);
                        model.put(path, Arrays.copyOf(cur, size));
                    } else if (kind == 7) {
                        ops.unlink(d, name);
                        model.remove(path);
                    } else if (kind == 8 && cur.length > 0) {
                        long off = rnd.nextInt(cur.length);
                        long len = 1 + rnd.nextInt(cur.length - (int) off + 5000);
                        // a punched hole, a zeroed range, a zeroed range that may grow the file
                        int how = rnd.nextInt(3);
                        ops.fallocate(f, how == 0 ? FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE
                                : how == 1 ? FsOperations.FALLOC_FL_ZERO_RANGE | FsOperations.FALLOC_FL_KEEP_SIZE
                                : FsOperations.FALLOC_FL_ZERO_RANGE, off, len);
                        long size = how == 2 ? Math.max(cur.length, off + len) : cur.length;
                        byte[] next = Arrays.copyOf(cur, (int) size);
                        Arrays.fill(next, (int) off, (int) Math.min(next.length, off + len), (byte) 0);
                        model.put(path, next);
                    } else {
                        int to = rnd.nextInt(dirs.size());
                        String toName = "r" + rnd.nextInt(40);
                        String toPath = dirNames.get(to) + "/" + toName;
                        ops.rename(d, name, dirs.get(to), toName, 0);
                        if (!toPath.equals(path)) {
                            model.put(toPath, model.remove(path));
                        }
                    }
                }
                ops.sync();
            }
            for (Map.Entry<String, byte[]> e : model.entrySet()) {
                InodeId id = ops.resolve(e.getKey());
                byte[] got = new byte[e.getValue().length];
                ops.read(id, 0, ByteBuffer.wrap(got));
                assertArrayEquals(e.getValue(), got, e.getKey());
            }
            listing = TreeListing.ofOperations(ops);
        }
        if (compress != null) {
            // compress-force finds something to compress; without force files that met random bytes stop trying
            long n = CompressedWriteTest.extentCompression(image).values().stream().flatMap(List::stream)
                    .filter(c -> c != 0).count();
            System.out.println("workload " + variant + ": " + n + " compressed extent items");
            Assertions.assertTrue(n > 0, "no compressed extents");
        }
        System.out.println("workload " + variant + ": " + model.size() + " files, " + model.values().stream().mapToLong(b -> b.length).sum() + " bytes");
        BtrfsCheck.assertCleanWithData(image, "btrfs check");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            assertEquals(List.of(), TreeListing.differences(listing, TreeListing.ofOperations(fs.operations()), 10));
        }
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(listing, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    private static InodeId lookupOrNull(FsOperations ops, InodeId d, String name) throws Exception {
        try {
            return ops.lookup(d, name);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            return null;
        }
    }

}
