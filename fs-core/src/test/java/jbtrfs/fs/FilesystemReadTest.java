package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import jbtrfs.Errno;
import jbtrfs.testing.Images;
import jbtrfs.testing.TreeGenerator;

/**
 * Reads images made by {@code mkfs.btrfs --rootdir} through fs-core alone (no FUSE) and checks every file against
 * the source tree mkfs copied: names, types, sizes, contents, permissions, symlink targets, user xattrs.
 */
class FilesystemReadTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @MethodSource("jbtrfs.testing.MkfsVariants#arguments")
    void read_matchesSourceTree(String name, String[] options) throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src"));
        TreeGenerator.make(src, 42, false);
        Path image = Images.mkfs(tmp, src, 256, options);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            Map<String, Path> expected = new TreeMap<>();
            try (Stream<Path> walk = Files.walk(src)) {
                walk.filter(p -> !p.equals(src)).forEach(p -> expected.put(src.relativize(p).toString(), p));
            }
            List<String> seen = new ArrayList<>();
            walk(ops, ops.root(), "", seen);
            assertEquals(new ArrayList<>(expected.keySet()), seen.stream().sorted().toList(), "paths");
            for (Map.Entry<String, Path> e : expected.entrySet()) {
                checkEntry(ops, e.getKey(), e.getValue());
            }
            assertErrno(Errno.ENOENT, () -> ops.resolve("/no-such-file"));
            assertEquals(0, fs.counters().dataChecksumFailures());
        }
    }

    private void walk(FsOperations ops, InodeId dir, String prefix, List<String> out) throws IOException {
        long offset = 0;
        while (true) {
            List<DirEntry> page = ops.readdir(dir, offset, 100);
            if (page.isEmpty()) return;
            for (DirEntry d : page) {
                String path = prefix.isEmpty() ? d.name() : prefix + "/" + d.name();
                out.add(path);
                if (d.type() == 4) walk(ops, d.id(), path, out);
                offset = d.offset();
            }
        }
    }

    private void checkEntry(FsOperations ops, String rel, Path p) throws IOException {
        InodeId id = ops.resolve("/" + rel);
        Stat st = ops.stat(id);
        Map<String, Object> attrs = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
        assertEquals(((Number) attrs.get("mode")).intValue(), st.mode(), "mode of " + rel);
        assertEquals(st.isDirectory() ? 1 : ((Number) attrs.get("nlink")).longValue(), st.nlink(), "nlink of " + rel);
        if (st.isRegular()) {
            byte[] want = Files.readAllBytes(p);
            assertEquals(want.length, st.size(), "size of " + rel);
            ByteBuffer got = ByteBuffer.allocate(want.length + 10);
            int n = ops.read(id, 0, got);
            assertEquals(want.length, n, "bytes read of " + rel);
            assertArrayEquals(want, Arrays.copyOf(got.array(), n), "content of " + rel);
            if (want.length > 5000) {
                // an unaligned read from the middle
                ByteBuffer mid = ByteBuffer.allocate(3001);
                int m = ops.read(id, 1234, mid);
                assertArrayEquals(Arrays.copyOfRange(want, 1234, 1234 + m),
                        Arrays.copyOf(mid.array(), m), "mid read of " + rel);
            }
        } else if (st.isSymlink()) {
            assertEquals(Files.readSymbolicLink(p).toString(), ops.readlink(id), "target of " + rel);
        }
        if (!st.isSymlink()) {
            UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
            for (String x : view.list()) {
                ByteBuffer v = ByteBuffer.allocate(view.size(x));
                view.read(x, v);
                assertArrayEquals(v.array(), ops.getXattr(id, "user." + x), "xattr " + x + " of " + rel);
            }
            assertErrno(Errno.ENODATA, () -> ops.getXattr(id, "user.absent"));
        }
    }
}
