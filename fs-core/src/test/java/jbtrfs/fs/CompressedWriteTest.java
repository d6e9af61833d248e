package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.compress.CompressionType;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Writes under a compress mount option: compressible data lands in compressed extents of the chosen type (as
 * btrfs-progs' dump-tree reads them), incompressible data does not and marks its file NOCOMPRESS unless forced;
 * overwrites, truncates and appends around compressed extents read back right; btrfs check verifies the checksums
 * of the compressed bytes and the kernel decompresses every file to the same content.
 */
class CompressedWriteTest {
    private static final int K = 1024;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} {1} mkfs [{2}]")
    @CsvSource({"zlib, false, ''", "lzo, false, ''", "zstd, false, ''", "zstd, true, ''", "zlib, true, -O ^no-holes",
            "lzo, false, -n 4096"})
    void compressibleWritesCompress_kernelReadsTheSame(String type, boolean force, String mkfsOptions)
            throws Exception {
        CompressionType ct = CompressionType.valueOf(type.toUpperCase());
        Path image = Images.mkfs(dir, null, 256, mkfsOptions.isEmpty() ? new String[0] : mkfsOptions.split(" "));
        Map<String, byte[]> model = new TreeMap<>();
        Map<String, Long> ids = new HashMap<>();
        Map<String, String> ours;
        Random rnd = new Random(type.hashCode() + (force ? 1 : 0));
        MountOptions.Compression option = new MountOptions.Compression(ct, ct == CompressionType.ZLIB ? 6 : 3, force);
        try (Filesystem fs = Filesystem.open(image,
                MountOptions.readWriteDefaults().withCommitSeconds(0).withCompression(option))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            // text in FUSE-sized writes: one compressed extent per 128 KiB
            byte[] text = text(rnd, 1000 * K + 333);
            InodeId t = create(ops, root, "text.txt", ids);
            for (int off = 0; off < text.length; off += 128 * K) {
                ops.write(t, off, ByteBuffer.wrap(text, off, Math.min(128 * K, text.length - off)));
            }
            model.put("text.txt", text);
            // random bytes do not compress; text written after them is not tried again unless forced
            byte[] random = new byte[300 * K];
            rnd.nextBytes(random);
            InodeId r = create(ops, root, "random.bin", ids);
            ops.write(r, 0, ByteBuffer.wrap(random));
            byte[] more = text(rnd, 64 * K);
            ops.write(r, random.length, ByteBuffer.wrap(more));
            model.put("random.bin", concat(random, more));
            // edits inside compressed extents: unaligned overwrite, truncate into one, append, punch, zero range
            byte[] edited = text(rnd, 400 * K);
            InodeId e = create(ops, root, "edited.txt", ids);
            ops.write(e, 0, ByteBuffer.wrap(edited));
            byte[] patch = new byte[10_000];
            rnd.nextBytes(patch);
            ops.write(e, 70_001, ByteBuffer.wrap(patch));
            System.arraycopy(patch, 0, edited, 70_001, patch.length);
            ops.truncate(e, 250_001);
            edited = Arrays.copyOf(edited, 250_001);
            byte[] tail = text(rnd, 50_000);
            ops.write(e, edited.length, ByteBuffer.wrap(tail));
            edited = concat(edited, tail);
            ops.fallocate(e, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE, 140_000, 30_000);
            Arrays.fill(edited, 140_000, 170_000, (byte) 0);
            ops.fallocate(e, FsOperations.FALLOC_FL_ZERO_RANGE, 5_000, 9_000);
            Arrays.fill(edited, 5_000, 14_000, (byte) 0);
            model.put("edited.txt", edited);
            // three sectors compress; one sector alone is never compressed (it cannot save space)
            byte[] small = text(rnd, 3 * 4096);
            InodeId s = create(ops, root, "small.txt", ids);
            ops.write(s, 0, ByteBuffer.wrap(small));
            model.put("small.txt", small);
            // a file of up to a sector whose compressed bytes fit max_inline is inline compressed, as on the kernel
            byte[] one = "abcdefgh\n".repeat(456).substring(0, 4096).getBytes(StandardCharsets.US_ASCII);
            InodeId o = create(ops, root, "one-sector.txt", ids);
            ops.write(o, 0, ByteBuffer.wrap(one));
            model.put("one-sector.txt", one);
            byte[] cut = "01234567\n".repeat(400).getBytes(StandardCharsets.US_ASCII);
            InodeId ct3 = create(ops, root, "cut.txt", ids);
            ops.write(ct3, 0, ByteBuffer.wrap(cut, 0, 1000));
            ops.write(ct3, 1000, ByteBuffer.wrap(cut, 1000, 2600));
            ops.truncate(ct3, 2500);
            model.put("cut.txt", Arrays.copyOf(cut, 2500));
            // one that does not compress: a plain sector, and NOCOMPRESS as on the kernel
            byte[] rand3k = new byte[3000];
            rnd.nextBytes(rand3k);
            InodeId r3 = create(ops, root, "rand3k", ids);
            ops.write(r3, 0, ByteBuffer.wrap(rand3k));
            model.put("rand3k", rand3k);
            // appends of 10 KiB, as tar writes: gathered into compressed extents of 64 to 128 KiB
            byte[] appended = text(rnd, 600 * K + 77);
            InodeId a = create(ops, root, "appended.txt", ids);
            for (int off = 0; off < appended.length; off += 10_240) {
                ops.write(a, off, ByteBuffer.wrap(appended, off, Math.min(10_240, appended.length - off)));
            }
            model.put("appended.txt", appended);
            ops.sync();
            // a commit between: the compressed extents are read back from disk, then cut again
            ops.write(t, 200_000, ByteBuffer.wrap(patch));
            System.arraycopy(patch, 0, text, 200_000, patch.length);
            for (Map.Entry<String, byte[]> m : model.entrySet()) {
                byte[] got = new byte[m.getValue().length];
                assertEquals(got.length, ops.read(ops.resolve("/" + m.getKey()), 0, ByteBuffer.wrap(got)));
                assertArrayEquals(m.getValue(), got, m.getKey());
            }
            ours = TreeListing.ofOperations(ops);
        }
        BtrfsCheck.assertCleanWithData(image, "btrfs check after compressed writes");
        Map<Long, List<Integer>> compression = extentCompression(image);
        assertTrue(compression.get(ids.get("text.txt")).stream().filter(c -> c == ct.code()).count() >= 7,
                "text.txt: " + compression.get(ids.get("text.txt")));
        assertTrue(compression.get(ids.get("edited.txt")).contains(ct.code()), "edited.txt");
        List<Integer> ac = compression.get(ids.get("appended.txt"));
        assertTrue(ac.size() <= 12 && ac.stream().allMatch(c -> c == ct.code()), "appended.txt: " + ac);
        assertEquals(List.of(ct.code()), compression.get(ids.get("small.txt")), "small.txt");
        assertEquals(List.of(ct.code()), compression.get(ids.get("one-sector.txt")), "one-sector.txt");
        assertEquals(List.of(ct.code()), compression.get(ids.get("cut.txt")), "cut.txt");
        assertEquals(List.of(0), compression.get(ids.get("rand3k")), "rand3k");
        List<Integer> rc = compression.get(ids.get("random.bin"));
        assertEquals(0, rc.get(0), "random.bin's random bytes");
        // forced, the text after them compresses; otherwise the file was marked NOCOMPRESS and it does not
        assertEquals(force, rc.contains(ct.code()), "random.bin's text: " + rc);
        String fsTree = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image);
        for (String incompressible : List.of("random.bin", "rand3k")) {
            String flags = CompressionPropertyTest.flags(fsTree, ids.get(incompressible));
            assertEquals(!force, flags.contains("NOCOMPRESS"), incompressible + " " + flags);
        }
        assertTrue(fsTree.contains("ram_bytes 4096 compression " + ct.code()), "one-sector.txt inline");
        assertTrue(fsTree.contains("ram_bytes 2500 compression " + ct.code()), "cut.txt inline");
        String features = Shell.sh("btrfs inspect-internal dump-super " + image);
        if (ct != CompressionType.ZLIB) {
            assertTrue(features.contains("COMPRESS_" + ct.name()), "incompat flag COMPRESS_" + ct.name());
        }
        Images.requireRootAndLoop();
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    private static InodeId create(FsOperations ops, InodeId parent, String name, Map<String, Long> ids)
            throws Exception {
        InodeId id = ops.mknod(parent, name, Stat.S_IFREG | 0644, 0, 0, 0);
        ids.put(name, id.objectid());
        return id;
    }

    /** Words from a small vocabulary: compresses several times over, never the same twice. */
    static byte[] text(Random rnd, int n) {
        String[] words = {"extent", "chunk", "stripe", "inode", "tree", "block", "group", "commit", "sector",
                "checksum", "root", "leaf", "node", "key", "item", "ref"};
        StringBuilder sb = new StringBuilder(n + 16);
        while (sb.length() < n) sb.append(words[rnd.nextInt(words.length)]).append(rnd.nextInt(10) == 0 ? '\n' : ' ');
        return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), n);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Inode number -> the compression byte of each of its extent items, inline ones too (holes: 0), from dump-tree. */
    static Map<Long, List<Integer>> extentCompression(Path image) throws Exception {
        Map<Long, List<Integer>> out = new HashMap<>();
        Pattern item = Pattern.compile("key \\((\\d+) EXTENT_DATA \\d+\\)");
        Pattern comp = Pattern.compile("(?:extent compression|ram_bytes \\d+ compression) (\\d+)");
        long current = -1;
        for (String line : Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image).split("\n")) {
            Matcher m = item.matcher(line);
            if (m.find()) {
                current = Long.parseLong(m.group(1));
                continue;
            }
            Matcher c = comp.matcher(line);
            if (c.find() && current >= 0) {
                out.computeIfAbsent(current, k -> new ArrayList<>()).add(Integer.parseInt(c.group(1)));
                current = -1;
            }
        }
        return out;
    }
}
