package jbtrfs.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import jbtrfs.format.Timespec;
import jbtrfs.fs.DirEntry;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;

/**
 * One comparable line per path of a tree: type and mode, owner, size, nlink, mtime and ctime in ns, inode number,
 * rdev, content hash or link target, every xattr, and for directories the sorted entry names. Made the same way
 * from a mounted directory (the kernel's or ours) and from fs-core's {@link FsOperations}, so two listings of one
 * image compare field by field.
 */
public final class TreeListing {
    private TreeListing() {
    }

    /** Lists a mounted directory through the VFS; xattrs of every namespace via getfattr. */
    public static Map<String, String> ofMount(Path mnt) throws IOException, InterruptedException {
        Map<String, String> xattrs = xattrsOfMount(mnt);
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(mnt)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) a.get("mode");
                String content = "";
                List<String> names = List.of();
                if ((mode & Stat.S_IFMT) == Stat.S_IFREG) content = sha256(p);
                if ((mode & Stat.S_IFMT) == Stat.S_IFLNK) content = Files.readSymbolicLink(p).toString();
                if ((mode & Stat.S_IFMT) == Stat.S_IFDIR) {
                    try (Stream<Path> list = Files.list(p)) {
                        names = list.map(c -> c.getFileName().toString()).sorted().toList();
                    }
                }
                String rel = key("/" + mnt.relativize(p));
                out.put(rel, describe(mode, (Integer) a.get("uid"), (Integer) a.get("gid"), (Long) a.get("size"),
                        (Integer) a.get("nlink"), ns((FileTime) a.get("lastModifiedTime")),
                        ns((FileTime) a.get("ctime")), (Long) a.get("ino"), (Long) a.get("rdev"), content)
                        + xattrs.getOrDefault(rel, "") + entries(names));
            }
        }
        return out;
    }

    /** Lists {@code image} as the kernel shows it: a read-only loop mount (plus {@code extraOptions}) under {@code work}. */
    public static Map<String, String> ofKernelMount(Path image, Path work, String extraOptions)
            throws IOException, InterruptedException {
        Path mnt = Files.createTempDirectory(work, "kernel-ro");
        Shell.sh("mount -o loop,ro" + extraOptions + " " + image + " " + mnt);
        try {
            return ofMount(mnt);
        } finally {
            Shell.sh("umount " + mnt);
            Files.delete(mnt);
        }
    }

    /** Changes made through fs-core's operations. */
    public interface Changes {
        void apply(FsOperations ops) throws Exception;
    }

    /**
     * Opens {@code image} read-write without timer commits, makes {@code changes}, and returns the listing they leave
     * ({@link #ofOperations}), taken before the unmount's commit.
     */
    public static Map<String, String> afterChanges(Path image, Changes changes) throws Exception {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            changes.apply(ops);
            return ofOperations(ops);
        }
    }

    /** Lists the same fields through fs-core alone. */
    public static Map<String, String> ofOperations(FsOperations ops) throws IOException {
        Map<String, String> out = new TreeMap<>();
        walk(ops, ops.root(), "", out);
        return out;
    }

    /**
     * The paths whose lines differ (at most {@code max}, each with both lines). The placeholder the kernel shows for
     * a subvolume a snapshot did not copy (inode 2) takes the time of its lookup, so its times are not compared.
     */
    public static List<String> differences(Map<String, String> want, Map<String, String> got, int max) {
        List<String> diffs = new ArrayList<>();
        for (Map.Entry<String, String> e : want.entrySet()) {
            String w = e.getValue();
            String g = got.get(e.getKey());
            if (g != null && w.contains(" ino=2 ")) {
                w = w.replaceAll(" [mc]time=\\d+", "");
                g = g.replaceAll(" [mc]time=\\d+", "");
            }
            if (!w.equals(g)) diffs.add(e.getKey() + "\n  want: " + w + "\n  got:  " + g);
        }
        for (String p : got.keySet()) {
            if (!want.containsKey(p)) diffs.add(p + ": unexpected");
        }
        return diffs.size() > max ? diffs.subList(0, max) : diffs;
    }

    private static void walk(FsOperations ops, InodeId id, String path, Map<String, String> out) throws IOException {
        Stat st = ops.stat(id);
        String content = "";
        if (st.isRegular()) {
            MessageDigest md = digest();
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            for (long off = 0; off < st.size(); ) {
                b.clear();
                int n = ops.read(id, off, b);
                if (n <= 0) break;
                md.update(b.array(), 0, n);
                off += n;
            }
            content = shortHex(md.digest());
        }
        if (st.isSymlink()) content = ops.readlink(id);
        List<String> x = new ArrayList<>();
        for (String name : ops.listXattr(id)) x.add(name + "=" + HexFormat.of().formatHex(ops.getXattr(id, name)));
        List<DirEntry> children = new ArrayList<>();
        if (st.isDirectory()) {
            long offset = 0;
            List<DirEntry> page;
            while (!(page = ops.readdir(id, offset, 500)).isEmpty()) {
                children.addAll(page);
                offset = page.get(page.size() - 1).offset();
            }
        }
        out.put(key(path), describe(st.mode(), st.uid(), st.gid(), st.size(), (int) st.nlink(), ns(st.mtime()),
                ns(st.ctime()), st.ino(), st.rdev(), content) + xattrLine(x)
                + entries(children.stream().map(DirEntry::name).sorted().toList()));
        for (DirEntry d : children) walk(ops, d.id(), path + "/" + d.name(), out);
    }

    private static String key(String rel) {
        return rel.equals("/") || rel.isEmpty() ? "/" : rel;
    }

    private static String describe(int mode, int uid, int gid, long size, int nlink, long mtime, long ctime, long ino,
                                   long rdev, String content) {
        return String.format("mode=%o uid=%d gid=%d size=%d nlink=%d mtime=%d ctime=%d ino=%d rdev=%d data=%s",
                mode, uid, gid, size, nlink, mtime, ctime, ino, rdev, content);
    }

    private static String entries(List<String> names) {
        return names.isEmpty() ? "" : " entries=" + names.size() + ":" + sha256(String.join("/", names).getBytes(
                StandardCharsets.UTF_8));
    }

    private static String xattrLine(List<String> nameValues) {
        if (nameValues.isEmpty()) return "";
        List<String> sorted = new ArrayList<>(nameValues);
        sorted.sort(null);
        return " xattrs:" + String.join(",", sorted);
    }

    /** Every xattr in every namespace, via getfattr (Java's NIO only sees user.*). */
    private static Map<String, String> xattrsOfMount(Path mnt) throws IOException, InterruptedException {
        String dump = Shell.sh("getfattr -R -P -d -m - -e hex --absolute-names " + mnt + " 2>/dev/null || true");
        Map<String, List<String>> byPath = new TreeMap<>();
        String cur = null;
        for (String line : dump.split("\n")) {
            if (line.startsWith("# file: ")) {
                cur = key("/" + mnt.relativize(Path.of(line.substring(8))));
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
        byPath.forEach((p, l) -> out.put(p, xattrLine(l)));
        return out;
    }

    private static long ns(FileTime t) {
        return t.to(TimeUnit.SECONDS) * 1_000_000_000L + t.toInstant().getNano();
    }

    private static long ns(Timespec t) {
        return t.sec() * 1_000_000_000L + t.nsec();
    }

    /** A short content hash. */
    public static String sha256(byte[] b) {
        return shortHex(digest().digest(b));
    }

    /** The short content hash of a file, read in pieces (files may be larger than an array). */
    public static String sha256(Path file) throws IOException {
        MessageDigest md = digest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return shortHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String shortHex(byte[] d) {
        return HexFormat.of().formatHex(d).substring(0, 16);
    }
}
