package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Images the Linux kernel wrote (through a loop mount, as root): what fs-core reads must equal what the kernel
 * shows for the same image, field by field: type, mode, owner, size, nlink, mtime/ctime to the nanosecond, inode
 * number, rdev, content, symlink target, every xattr.
 */
class KernelWrittenImageTest {
    @TempDir
    Path tmp;

    static void requireRootAndLoop() {
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean loop = Files.exists(Path.of("/dev/loop-control"));
        if (!root || !loop) System.out.println("SKIP: kernel-written images need root and loop devices");
        assumeTrue(root && loop, "needs root and loop devices");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"compress-zstd", "compress-lzo", "compress-zlib", "reflink-prealloc-holes",
            "subvolumes-snapshots", "default-subvolume", "churn", "hardlinks-extrefs"})
    void fs_core_matches_kernel(String scenario) throws Exception {
        requireRootAndLoop();
        Path image = Images.mkfs(tmp, null, 512);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        String opts = scenario.startsWith("compress-") ? "compress-force=" + scenario.substring(9) : "";
        sh("mount -o loop" + (opts.isEmpty() ? "" : "," + opts) + " " + image + " " + mnt);
        try {
            // no pipefail: `yes | head` ends yes with SIGPIPE by design
            sh("set +o pipefail\n" + ScenarioScripts.script(scenario), mnt);
        } finally {
            sh("umount " + mnt);
        }
        sh("mount -o loop,ro " + image + " " + mnt);
        Map<String, String> kernel;
        Map<String, String> xattrs;
        try {
            kernel = listKernel(mnt);
            xattrs = kernelXattrs(mnt);
        } finally {
            sh("umount " + mnt);
        }
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            Map<String, String> ours = listOurs(fs.operations(), xattrs.keySet());
            List<String> diffs = new ArrayList<>();
            for (String p : kernel.keySet()) {
                String want = kernel.get(p) + xattrs.getOrDefault(p, "");
                String got = ours.get(p);
                if (want.contains(" ino=2 ") && got != null) {
                    // the kernel's placeholder for a subvolume a snapshot did not copy takes the time of its
                    // lookup, so the two sides' times differ by design
                    want = want.replaceAll(" [mc]time=\\d+", "");
                    got = got.replaceAll(" [mc]time=\\d+", "");
                }
                if (!want.equals(got)) diffs.add(p + "\n  kernel: " + want + "\n  ours:   " + got);
            }
            for (String p : ours.keySet()) if (!kernel.containsKey(p)) diffs.add(p + ": only in ours");
            assertTrue(kernel.size() > 2, "scenario made files");
            assertEquals(List.of(), diffs.subList(0, Math.min(10, diffs.size())), diffs.size() + " differences");
            assertEquals(0, fs.counters().dataChecksumFailures());
        }
    }

    @org.junit.jupiter.api.Test
    void subvol_and_subvolid_options_show_that_subvolume() throws Exception {
        requireRootAndLoop();
        Path image = Images.mkfs(tmp, null, 512);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        sh("mount -o loop " + image + " " + mnt);
        try {
            sh("set +o pipefail\n" + ScenarioScripts.script("subvolumes-snapshots"), mnt);
        } finally {
            sh("umount " + mnt);
        }
        sh("mount -o loop,ro,subvol=deep/sub2 " + image + " " + mnt);
        Map<String, String> kernel;
        try {
            kernel = listKernel(mnt);
        } finally {
            sh("umount " + mnt);
        }
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults().withSubvol("/deep/sub2"))) {
            assertEquals(kernel, listOurs(fs.operations(), java.util.Set.of()));
            long id = fs.operations().root().root();
            try (Filesystem byId = Filesystem.open(image, MountOptions.readOnlyDefaults().withSubvolid(id))) {
                assertEquals(kernel, listOurs(byId.operations(), java.util.Set.of()));
            }
        }
        org.junit.jupiter.api.Assertions.assertThrows(jbtrfs.UnsupportedImageException.class,
                () -> Filesystem.open(image, MountOptions.readOnlyDefaults().withSubvol("/deep")).close());
    }

    private static Map<String, String> listKernel(Path mnt) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(mnt)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) a.get("mode");
                String content = "";
                if ((mode & Stat.S_IFMT) == Stat.S_IFREG) content = sha256(Files.readAllBytes(p));
                if ((mode & Stat.S_IFMT) == Stat.S_IFLNK) content = Files.readSymbolicLink(p).toString();
                String rel = "/" + mnt.relativize(p);
                out.put(rel.equals("/") ? "/" : rel, describe(mode, (Integer) a.get("uid"), (Integer) a.get("gid"),
                        (Long) a.get("size"), (Integer) a.get("nlink"), ns((FileTime) a.get("lastModifiedTime")),
                        ns((FileTime) a.get("ctime")), (Long) a.get("ino"), (Long) a.get("rdev"), content));
            }
        }
        return out;
    }

    private static Map<String, String> listOurs(FsOperations ops, java.util.Set<String> withXattrs) throws IOException {
        Map<String, String> out = new TreeMap<>();
        walk(ops, ops.root(), "", out, withXattrs);
        return out;
    }

    private static void walk(FsOperations ops, InodeId id, String path, Map<String, String> out,
                             java.util.Set<String> withXattrs) throws IOException {
        Stat st = ops.stat(id);
        String content = "";
        if (st.isRegular()) {
            ByteBuffer b = ByteBuffer.allocate((int) st.size());
            ops.read(id, 0, b);
            content = sha256(b.array());
        }
        if (st.isSymlink()) content = ops.readlink(id);
        String key = path.isEmpty() ? "/" : path;
        StringBuilder x = new StringBuilder();
        for (String name : ops.listXattr(id)) {
            x.append(" ").append(name).append("=").append(HexFormat.of().formatHex(ops.getXattr(id, name)));
        }
        out.put(key, describe(st.mode(), st.uid(), st.gid(), st.size(), (int) st.nlink(),
                st.mtime().sec() * 1_000_000_000L + st.mtime().nsec(), st.ctime().sec() * 1_000_000_000L + st.ctime().nsec(),
                st.ino(), st.rdev(), content) + sortedXattrs(x.toString()));
        if (st.isDirectory()) {
            long offset = 0;
            List<DirEntry> page;
            while (!(page = ops.readdir(id, offset, 500)).isEmpty()) {
                for (DirEntry d : page) {
                    walk(ops, d.id(), path + "/" + d.name(), out, withXattrs);
                    offset = d.offset();
                }
            }
        }
    }

    private static String describe(int mode, int uid, int gid, long size, int nlink, long mtime, long ctime, long ino,
                                   long rdev, String content) {
        return String.format("mode=%o uid=%d gid=%d size=%d nlink=%d mtime=%d ctime=%d ino=%d rdev=%d data=%s",
                mode, uid, gid, size, nlink, mtime, ctime, ino, rdev, content);
    }

    private static String sortedXattrs(String s) {
        if (s.isBlank()) return "";
        List<String> parts = new ArrayList<>(List.of(s.trim().split(" ")));
        parts.sort(null);
        return " xattrs:" + String.join(",", parts);
    }

    /** Every xattr in every namespace through the kernel, via getfattr. */
    private static Map<String, String> kernelXattrs(Path mnt) throws Exception {
        String dump = sh("getfattr -R -P -d -m - -e hex --absolute-names " + mnt + " 2>/dev/null || true");
        Map<String, List<String>> byPath = new TreeMap<>();
        String cur = null;
        for (String line : dump.split("\n")) {
            if (line.startsWith("# file: ")) {
                String rel = "/" + mnt.relativize(Path.of(line.substring(8)));
                cur = rel.equals("/") ? "/" : rel;
                byPath.put(cur, new ArrayList<>());
            } else if (cur != null && line.contains("=")) {
                String name = line.substring(0, line.indexOf('='));
                String v = line.substring(line.indexOf('=') + 1);
                byPath.get(cur).add(name + "=" + (v.startsWith("0x") ? v.substring(2) : v.equals("\"\"") ? "" : v));
            } else if (cur != null && !line.isBlank()) {
                byPath.get(cur).add(line.trim() + "=");
            }
        }
        Map<String, String> out = new TreeMap<>();
        byPath.forEach((p, l) -> {
            if (!l.isEmpty()) {
                l.sort(null);
                out.put(p, " xattrs:" + String.join(",", l));
            }
        });
        return out;
    }

    private static long ns(FileTime t) {
        return t.to(TimeUnit.SECONDS) * 1_000_000_000L + t.toInstant().getNano();
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b)).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static String sh(String script) throws Exception {
        return sh(script, null);
    }

    private static String sh(String script, Path cwd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-euo", "pipefail", "-c", script).redirectErrorStream(true);
        if (cwd != null) pb.directory(cwd.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + script);
        }
        if (p.exitValue() != 0) throw new IOException("failed (" + p.exitValue() + "): " + script + "\n" + out);
        return out;
    }
}
