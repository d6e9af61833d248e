package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.TestImage;

/**
 * copyFileRange on files the kernel wrote (plain, compressed, prealloc, sparse, inline, nodatacow; with and without NO_HOLES) against the kernel's own
 * copy_file_range of the same calls on a copy of the image: the same byte counts, the same file extent items (which
 * extents are shared, at which offsets), the same back references, the same contents; btrfs check clean. A write
 * over the source afterwards and the source's deletion leave the copies as they were.
 */
class CopyFileRangeTest {
    /** The kernel writes the sources; mkfs' defaults (NO_HOLES) and a subvolume to copy into. */
    private static final String SOURCES = """
            set +o pipefail
            head -c 300000 /dev/urandom > plain
            mkdir c d && chattr +c c
            yes abcdefgh | head -c 300000 > c/comp
            fallocate -l 262144 prealloc && xfs_io -c 'pwrite -q 65536 8192' prealloc
            xfs_io -f -c 'pwrite -q 1048576 4096' -c 'pwrite -q 3145728 4096' sparse
            echo hello > inline
            echo small > small && echo small > small0
            args=(); for i in $(seq 0 2 300); do args+=(-c "pwrite -q -S $i $((i * 4096)) 4096"); done
            xfs_io -f "${args[@]}" frag
            head -c 70000 /dev/urandom > target
            touch nocow && chattr +C nocow && head -c 65536 /dev/urandom >> nocow
            btrfs -q subvolume create sub
            sync
            btrfs -q subvolume snapshot -r . ro
            sync
            """;

    /** One copy_file_range call: source path and offset, destination path (made when missing) and offset, length. */
    private record Call(String src, long srcOff, String dst, long dstOff, long length) {
    }

    private static final List<Call> CALLS = List.of(
            new Call("plain", 0, "d/whole", 0, 300000),          // whole file, to an unaligned EOF: shared
            new Call("plain", 65536, "d/part", 8192, 131072),    // a part, behind a hole
            new Call("c/comp", 0, "d/comp", 0, 300000),          // compressed extents
            new Call("c/comp", 4096, "d/comppart", 0, 65536),    // inside compressed extents
            new Call("prealloc", 0, "d/prealloc", 0, 262144),    // prealloc around written
            new Call("sparse", 0, "d/sparse", 0, 3149824),       // holes stay holes
            new Call("inline", 0, "d/inline", 0, 6),             // inline
            new Call("plain", 1000, "d/unaligned", 0, 50000),    // unaligned offset: copied
            new Call("plain", 0, "sub/plain", 0, 300000),        // into a second subvolume
            new Call("plain", 4096, "target", 8192, 20000),      // an unaligned length: cut to whole sectors
            new Call("plain", 294912, "target", 0, 5088),        // the EOF sector into the middle: cut to 4096
            new Call("frag", 0, "d/frag", 0, 1236992),           // 151 extents: shared in batches
            new Call("frag", 24576, "d/frag2", 4096, 819200),    // from and to the middle of batches
            new Call("plain", 0, "d/frag", 8192, 262144),        // over 32 extents of the destination
            new Call("plain", 0, "small", 4096, 65536),          // behind an inline extent, which stays
            new Call("plain", 0, "small0", 0, 65536),            // over an inline extent
            new Call("nocow", 0, "d/nocow", 0, 65536),           // no data checksums to checksums: copied
            new Call("fresh", 0, "d/fresh", 0, 98304),           // extents of this transaction
            new Call("plain", 0, "plain", 307200, 8192));        // within one file, past its end

    /** Calls the kernel refuses, each with the errno it answers. */
    private static final List<Call> REFUSED = List.of(
            new Call("plain", 0, "plain", 4096, 8192),            // overlapping ranges of one file: EINVAL
            new Call("d", 0, "d/whole", 0, 4096),                 // a directory: EISDIR
            new Call("plain", 0, "ro/target", 0, 4096));          // a read-only snapshot: EROFS

    private static final Pattern DISK = Pattern.compile("disk byte (\\d+)");
    private static final Pattern GENERATION = Pattern.compile("generation \\d+ ");
    private static final Pattern SIZES = Pattern.compile("size (\\d+) nbytes (\\d+)");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"-O no-holes", "-O ^no-holes"})
    void kernelWrittenFiles_shareWhatTheKernelsCopyFileRangeShares(String mkfsOptions) throws Exception {
        Images.requireKernelBtrfs();
        Path ours = Images.kernelWritten(dir, 256, "", SOURCES, mkfsOptions.split(" "));
        Path mnt = Files.createTempDirectory(dir, "mnt");
        Path kernel = Files.copy(ours, dir.resolve("kernel.img"), StandardCopyOption.REPLACE_EXISTING);
        Set<Long> before = diskBytenrs(ours);
        assertTrue(before.size() > 5, "the kernel's sources have extents: " + before);

        List<Long> ourCounts = new ArrayList<>();
        try (Filesystem fs = Filesystem.open(ours, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            // written before the calls, not committed: its extent is new in the transaction that shares it
            InodeId fresh = ops.mknod(ops.root(), "fresh", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(fresh, 0, ByteBuffer.wrap(filled(98304, 0x5a)));
            for (Call c : CALLS) {
                ourCounts.add(ops.copyFileRange(ops.resolve(c.src), c.srcOff, orCreate(ops, c.dst), c.dstOff,
                        c.length, 0));
            }
            for (Call c : REFUSED) ourCounts.add(refusal(ops, c));
            // copy-on-write and references: the copies keep their bytes
            ops.write(ops.resolve("plain"), 0, ByteBuffer.wrap(filled(4096, 0xaa)));
            ops.unlink(ops.resolve("c"), "comp");
            ops.write(fresh, 98304, ByteBuffer.wrap(filled(4096, 0x5b))); // an append must not grow a shared extent
        }
        List<Long> kernelCounts = new ArrayList<>();
        for (String n : Images.kernelScript(kernel, mnt, "python3 -c '" + kernelCalls() + "'").trim().split("\n")) {
            kernelCounts.add(Long.parseLong(n));
        }
        assertEquals(kernelCounts, ourCounts, "bytes each copy_file_range copied: kernel, ours");

        BtrfsCheck.assertCleanWithData(ours, "after our copyFileRange calls");
        for (String tree : List.of("5", "256", "257")) {
            assertEquals(List.of(), differences(fileItems(kernel, tree, before), fileItems(ours, tree, before)),
                    "tree " + tree + ": file extent items and inode sizes (disk bytenrs of the sources' extents)");
        }
        assertEquals(dataRefs(kernel, before), dataRefs(ours, before), "back references of the sources' extents");
        String contents = "find . -type f | sort | xargs sha256sum";
        assertEquals(Images.kernelScript(kernel, mnt, contents), Images.kernelScript(ours, mnt, contents));
    }

    /** The negated errno our call fails with (0 if it does not). */
    private static long refusal(FsOperations ops, Call c) throws Exception {
        try {
            ops.copyFileRange(ops.resolve(c.src), c.srcOff, ops.resolve(c.dst), c.dstOff, c.length, 0);
            return 0;
        } catch (FsException e) {
            return -e.errno().number();
        }
    }

    @Test
    void readOnlyMount_refusesWithErofs() throws Exception {
        Images.requireMkfs();
        Path src = Files.createDirectory(dir.resolve("src"));
        Files.write(src.resolve("f"), new byte[8192]);
        Files.write(src.resolve("g"), new byte[0]);
        try (Filesystem fs = Filesystem.open(Images.mkfs(dir, src, 128), MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.resolve("/f");
            InodeId g = ops.resolve("/g");
            FsException e = assertThrows(FsException.class, () -> ops.copyFileRange(f, 0, g, 0, 8192, 0));
            assertEquals(Errno.EROFS, e.errno());
        }
    }

    private static InodeId orCreate(FsOperations ops, String path) throws Exception {
        int slash = path.lastIndexOf('/');
        InodeId dir = slash < 0 ? ops.root() : ops.resolve(path.substring(0, slash));
        try {
            return ops.resolve(path);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            return ops.mknod(dir, path.substring(slash + 1), Stat.S_IFREG | 0644, 0, 0, 0);
        }
    }

    /** The same calls, the same write and unlink, as python on the kernel's mount; prints each call's count. */
    private static String kernelCalls() {
        StringBuilder py = new StringBuilder("import os\n");
        py.append("fr = os.open(\"fresh\", os.O_WRONLY | os.O_CREAT, 0o644); os.write(fr, b\"\\x5a\" * 98304)\n");
        for (Call c : CALLS) {
            py.append("s = os.open(\"%s\", os.O_RDONLY); d = os.open(\"%s\", os.O_WRONLY | os.O_CREAT, 0o644)\n"
                    .formatted(c.src, c.dst));
            py.append("print(os.copy_file_range(s, d, %d, %d, %d)); os.close(s); os.close(d)\n"
                    .formatted(c.length, c.srcOff, c.dstOff));
        }
        for (Call c : REFUSED) {
            py.append("""
                    try:
                        s = os.open("%s", os.O_RDONLY); d = os.open("%s", os.O_WRONLY)
                        print(os.copy_file_range(s, d, %d, %d, %d))
                    except OSError as e:
                        print(-e.errno)
                    """.formatted(c.src, c.dst, c.length, c.srcOff, c.dstOff));
        }
        py.append("f = os.open(\"plain\", os.O_WRONLY); os.pwrite(f, b\"\\xaa\" * 4096, 0); os.close(f)\n");
        py.append("os.unlink(\"c/comp\")\n");
        py.append("os.pwrite(fr, b\"\\x5b\" * 4096, 98304); os.close(fr); os.sync()\n");
        return py.toString();
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** Disk bytenrs of the image's data extents. */
    private static Set<Long> diskBytenrs(Path image) throws Exception {
        Set<Long> out = new HashSet<>();
        for (String tree : List.of("5", "256", "257")) {
            Matcher m = DISK.matcher(TestImage.existing(image).dumpTree(tree));
            while (m.find()) if (!m.group(1).equals("0")) out.add(Long.parseLong(m.group(1)));
        }
        return out;
    }

    /**
     * "objectid offset: body" of each EXTENT_DATA item and "objectid: size nbytes" of each inode; generations
     * dropped, disk bytenrs kept for the extents in {@code kept}, "new" for the others (each side allocates its own).
     */
    private static TreeMap<String, String> fileItems(Path image, String tree, Set<Long> kept) throws Exception {
        TreeMap<String, String> out = new TreeMap<>();
        for (TestImage.Item item : TestImage.existing(image).items(tree)) {
            String body = GENERATION.matcher(item.bodyText()).replaceAll("");
            if (item.type().equals("EXTENT_DATA")) {
                Matcher m = DISK.matcher(body);
                if (m.find() && !m.group(1).equals("0") && !kept.contains(Long.parseLong(m.group(1)))) {
                    body = m.replaceFirst("disk byte new");
                }
                out.put(item.objectid() + " " + item.offset(), body);
            } else if (item.type().equals("INODE_ITEM")) {
                Matcher m = SIZES.matcher(body);
                if (m.find()) out.put(item.objectid(), m.group());
            }
        }
        return out;
    }

    /** "key: kernel | ours" where the two differ. */
    private static List<String> differences(TreeMap<String, String> kernel, TreeMap<String, String> ours) {
        TreeMap<String, String> keys = new TreeMap<>(kernel);
        keys.putAll(ours);
        List<String> out = new ArrayList<>();
        for (String k : keys.keySet()) {
            String a = kernel.getOrDefault(k, "-");
            String b = ours.getOrDefault(k, "-");
            if (!a.equals(b)) out.add(k + ": " + a.replace('\n', ';') + " | " + b.replace('\n', ';'));
        }
        return out;
    }

    /** "bytenr root objectid offset count" of the data back references of the extents in {@code kept}. */
    private static List<String> dataRefs(Path image, Set<Long> kept) throws Exception {
        List<String> out = new ArrayList<>();
        for (TestImage.DataBackref r : TestImage.existing(image).dataBackrefs()) {
            if (kept.contains(r.bytenr())) {
                out.add(r.bytenr() + " " + r.root() + " " + r.objectid() + " " + Long.toUnsignedString(r.offset()) + " "
                        + r.count());
            }
        }
        out.sort(null);
        return out;
    }
}
