package jbtrfs.fuse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.Timespec;
import jbtrfs.fs.DirEntry;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.Stat;
import jbtrfs.fs.StatFs;

/**
 * An in-memory {@link FsOperations} with one of everything the adapter serves: a file with xattrs and a second
 * name, a large file whose bytes follow a formula, a symlink, a fifo, a socket, devices, a 100,000-entry directory
 * made up on the fly, a file whose data fails its checksum and one whose read hits a bug.
 * Readdir offsets follow fs-core's: the dir index plus one, indexes starting at 2.
 */
final class FakeFs implements FsOperations {
    static final long TREE = 5;
    static final int HUGE_ENTRIES = 100_000;
    static final long HUGE_FIRST_INO = 10_000;
    static final long BIG_SIZE = (40L << 20) + 123;
    static final byte[] HELLO = "hello, jbtrfs\n".getBytes(StandardCharsets.UTF_8);
    static final byte[] UNICODE_CONTENT = "päivää\n".getBytes(StandardCharsets.UTF_8);
    static final String UNICODE_NAME = "päivää-✓.txt";
    static final Timespec MTIME = new Timespec(1_700_000_000L, 123_456_789);
    static final Timespec CTIME = new Timespec(1_700_000_001L, 987_654_321);
    static final Timespec ATIME = new Timespec(1_700_000_002L, 5);
    static final StatFs STATFS = new StatFs(4096, 65_536, 60_000, 50_000, 0, 0, 255);

    /** One inode of the fake: its stat, its entries if a directory, its xattrs. */
    private record Node(Stat stat, Map<String, Long> entries, Map<String, byte[]> xattrs, String target) {
    }

    private final Map<Long, Node> nodes = new LinkedHashMap<>();

    FakeFs() {
        dir(256, "hello.txt", 257L, "hardlink.txt", 257L, "big.bin", 258L, "sub", 259L, "fifo", 261L,
                "sock", 262L, "chr", 263L, "blk", 264L, "huge", 265L, "bad.bin", 266L, "bug.bin", 267L,
                UNICODE_NAME, 268L);
        Map<String, byte[]> x = new LinkedHashMap<>();
        x.put("user.greeting", "hi".getBytes(StandardCharsets.UTF_8));
        x.put("user.big", "x".repeat(300).getBytes(StandardCharsets.UTF_8));
        x.put("trusted.t", new byte[] {1, 0, 2});
        nodes.put(257L, new Node(stat(257, Stat.S_IFREG | 0644, 2, 0, HELLO.length), null, x, null));
        nodes.put(258L, new Node(stat(258, Stat.S_IFREG | 0444, 1, 0, BIG_SIZE), null, Map.of(), null));
        dir(259, "link", 260L);
        nodes.put(260L, new Node(stat(260, Stat.S_IFLNK | 0777, 1, 0, 12), null, Map.of(), "../hello.txt"));
        nodes.put(261L, new Node(stat(261, Stat.S_IFIFO | 0600, 1, 0, 0), null, Map.of(), null));
        nodes.put(262L, new Node(stat(262, Stat.S_IFSOCK | 0755, 1, 0, 0), null, Map.of(), null));
        nodes.put(263L, new Node(stat(263, Stat.S_IFCHR | 0666, 1, newEncodeDev(1, 3), 0), null, Map.of(), null));
        nodes.put(264L, new Node(stat(264, Stat.S_IFBLK | 0660, 1, newEncodeDev(259, 300_000), 0), null, Map.of(),
                null));
        nodes.put(265L, new Node(stat(265, Stat.S_IFDIR | 0755, 1, 0, HUGE_ENTRIES * 2L * 12), null, Map.of(), null));
        nodes.put(266L, new Node(stat(266, Stat.S_IFREG | 0644, 1, 0, 8192), null, Map.of(), null));
        nodes.put(267L, new Node(stat(267, Stat.S_IFREG | 0644, 1, 0, 8192), null, Map.of(), null));
        nodes.put(268L, new Node(stat(268, Stat.S_IFREG | 0644, 1, 0, UNICODE_CONTENT.length), null, Map.of(), null));
    }

    /** The kernel's new_encode_dev: what Stat.rdev carries. */
    static long newEncodeDev(int major, int minor) {
        return (minor & 0xffL) | ((long) major << 8) | ((long) (minor & ~0xff) << 12);
    }

    /** glibc's makedev: what stat(2) shows user space. */
    static long glibcMakedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12)
                | (minor & 0xffL);
    }

    /** The byte of big.bin at {@code pos}. */
    static byte bigByte(long pos) {
        return (byte) ((pos * 2654435761L) >>> 13 ^ pos >>> 20);
    }

    static long hugeIno(int i) {
        return HUGE_FIRST_INO + i;
    }

    static String hugeName(int i) {
        return String.format("entry-%06d", i);
    }

    private void dir(long ino, Object... namesAndInos) {
        Map<String, Long> entries = new LinkedHashMap<>();
        for (int i = 0; i < namesAndInos.length; i += 2) entries.put((String) namesAndInos[i], (Long) namesAndInos[i + 1]);
        nodes.put(ino, new Node(stat(ino, Stat.S_IFDIR | 0755, 1, 0, entries.size() * 20L), entries, Map.of(), null));
    }

    private static Stat stat(long ino, int mode, long nlink, long rdev, long size) {
        return new Stat(ino, mode, nlink, 1234, 5678, rdev, size, (size + 511) / 512, ATIME, MTIME, CTIME, MTIME, 1, 0);
    }

    private Node node(InodeId id) throws FsException {
        if (id.root() != TREE) throw new FsException(Errno.ENOENT, "no tree " + id.root());
        if (id.objectid() >= HUGE_FIRST_INO && id.objectid() < HUGE_FIRST_INO + HUGE_ENTRIES) {
            return new Node(stat(id.objectid(), Stat.S_IFREG | 0600, 1, 0, 0), null, Map.of(), null);
        }
        Node n = nodes.get(id.objectid());
        if (n == null) throw new FsException(Errno.ENOENT, "no inode " + id);
        return n;
    }

    @Override
    public InodeId root() {
        return new InodeId(TREE, 256);
    }

    @Override
    public InodeId lookup(InodeId dir, String name) throws FsException {
        if (dir.objectid() == 265) {
            if (name.startsWith("entry-") && name.length() == 12) {
                try {
                    int i = Integer.parseInt(name.substring(6));
                    if (i >= 0 && i < HUGE_ENTRIES) return new InodeId(TREE, hugeIno(i));
                } catch (NumberFormatException ignored) {
                    // not one of ours
                }
            }
            throw new FsException(Errno.ENOENT, name);
        }
        Node d = node(dir);
        if (d.entries() == null) throw new FsException(Errno.ENOTDIR, dir.toString());
        Long ino = d.entries().get(name);
        if (ino == null) throw new FsException(Errno.ENOENT, name);
        return new InodeId(TREE, ino);
    }

    @Override
    public InodeId resolve(String path) throws FsException {
        InodeId id = root();
        for (String part : path.split("/")) {
            if (!part.isEmpty()) id = lookup(id, part);
        }
        return id;
    }

    @Override
    public Stat stat(InodeId id) throws FsException {
        return node(id).stat();
    }

    @Override
    public List<DirEntry> readdir(InodeId dir, long offset, int max) throws FsException {
        List<DirEntry> out = new ArrayList<>();
        if (dir.objectid() == 265) {
            // entry i sits at dir index i + 2 and continues at offset i + 3
            for (long i = Math.max(0, offset - 2); i < HUGE_ENTRIES && out.size() < max; i++) {
                out.add(new DirEntry(hugeName((int) i), new InodeId(TREE, hugeIno((int) i)), 8, i + 3));
            }
            return out;
        }
        Node d = node(dir);
        if (d.entries() == null) throw new FsException(Errno.ENOTDIR, dir.toString());
        long index = 2;
        for (Map.Entry<String, Long> e : d.entries().entrySet()) {
            if (index + 1 > offset && out.size() < max) {
                int type = (node(new InodeId(TREE, e.getValue())).stat().mode() & Stat.S_IFMT) >> 12;
                out.add(new DirEntry(e.getKey(), new InodeId(TREE, e.getValue()), type, index + 1));
            }
            index++;
        }
        return out;
    }

    @Override
    public String readlink(InodeId id) throws FsException {
        String t = node(id).target();
        if (t == null) throw new FsException(Errno.EINVAL, "not a symlink: " + id);
        return t;
    }

    @Override
    public int read(InodeId file, long offset, ByteBuffer dst) throws FsException {
        Node n = node(file);
        if (n.entries() != null) throw new FsException(Errno.EISDIR, file.toString());
        long size = n.stat().size();
        if (offset >= size) return 0;
        int len = (int) Math.min(dst.remaining(), size - offset);
        switch ((int) file.objectid()) {
            case 257 -> dst.put(HELLO, (int) offset, len);
            case 268 -> dst.put(UNICODE_CONTENT, (int) offset, len);
            case 258 -> {
                for (int i = 0; i < len; i++) dst.put(bigByte(offset + i));
            }
            case 266 -> throw new FsException(Errno.EIO, "data checksum mismatch at " + offset);
            case 267 -> throw new IllegalStateException("a bug in the read path");
            default -> {
                for (int i = 0; i < len; i++) dst.put((byte) 0);
            }
        }
        return len;
    }

    @Override
    public List<String> listXattr(InodeId id) throws FsException {
        return new ArrayList<>(node(id).xattrs().keySet());
    }

    @Override
    public byte[] getXattr(InodeId id, String name) throws FsException {
        byte[] v = node(id).xattrs().get(name);
        if (v == null) throw new FsException(Errno.ENODATA, name);
        return v.clone();
    }

    @Override
    public StatFs statfs() {
        return STATFS;
    }
}
