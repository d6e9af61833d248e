package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.fs.Stat;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * A real FUSE mount of {@link JbtrfsFuse} over {@link FakeFs}, with the options and the session a {@code jbtrfs
 * mount} uses, checked through the kernel: stat fields, readdir of a huge directory, data, xattrs, errnos.
 */
class JbtrfsFuseMountTest {
    private static final int ENODATA = 61;
    private static final int ERANGE = 34;
    private static final int EROFS = 30;
    private static final int EIO = 5;

    /** The libc calls whose errno the test checks exactly. */
    public interface LibC {
        @ssize_t long lgetxattr(String path, String name, Pointer value, @size_t long size);

        @ssize_t long llistxattr(String path, Pointer list, @size_t long size);

        int lsetxattr(String path, String name, Pointer value, @size_t long size, int flags);

        int open(String path, int flags, int mode);

        int close(int fd);

        @ssize_t long pread(int fd, Pointer buf, @size_t long count, long offset);

        int mkdir(String path, int mode);

        int unlink(String path);

        int rmdir(String path);

        int rename(String from, String to);

        int symlink(String target, String linkpath);

        int link(String existing, String newpath);

        int chmod(String path, int mode);

        int truncate(String path, long length);
    }

    private static Path dir;
    private static Path mnt;
    private static FuseSession session;
    private static Thread server;
    private static LibC libc;
    private static Runtime rt;

    @BeforeAll
    static void mount() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), () -> skip("no /dev/fuse"));
        Assumptions.assumeTrue(Fusermount.path() != null, () -> skip("no fusermount on PATH"));
        dir = Files.createTempDirectory("jbtrfs-fuse-test");
        mnt = Files.createDirectory(dir.resolve("mnt"));
        libc = LibraryLoader.create(LibC.class).load("c");
        rt = Runtime.getRuntime(libc);
        MountOptionParser parsed = MountOptionParser.parse(List.of());
        session = FuseSession.mount(new JbtrfsFuse(new FakeFs(), 4096, new SimpleMeterRegistry()), mnt,
                List.of("-o", parsed.fuseOptions("fake-image")), 4, true, parsed.readAheadKib());
        server = new Thread(() -> {
            try {
                session.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "fuse-test-server");
        server.start();
        assertEquals("fuse.jbtrfs", MountTable.typeAt(mnt), "the mount is live when mount() returns");
    }

    private static String skip(String why) {
        String msg = "JbtrfsFuseMountTest skipped: " + why;
        System.out.println(msg);
        return msg;
    }

    @AfterAll
    static void unmount() throws Exception {
        if (session == null) return;
        session.unmount();
        server.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(server.isAlive(), "the session ends once the mount is gone");
        assertEquals(null, MountTable.typeAt(mnt));
        Files.delete(mnt);
        Files.delete(dir);
    }

    private static Map<String, Object> unix(Path p) throws IOException {
        return Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
    }

    private static long nanos(Object fileTime) {
        return ((FileTime) fileTime).to(TimeUnit.NANOSECONDS);
    }

    @Test
    void stat_showsInodeNumbersOwnersSizesLinksAndNanosecondTimes() throws IOException {
        Map<String, Object> a = unix(mnt.resolve("hello.txt"));
        assertEquals(257L, a.get("ino"));
        assertEquals(Stat.S_IFREG | 0644, a.get("mode"));
        assertEquals(2, a.get("nlink"));
        assertEquals(1234, a.get("uid"));
        assertEquals(5678, a.get("gid"));
        assertEquals((long) FakeFs.HELLO.length, a.get("size"));
        assertEquals(FakeFs.MTIME.sec() * 1_000_000_000L + FakeFs.MTIME.nsec(), nanos(a.get("lastModifiedTime")));
        assertEquals(FakeFs.CTIME.sec() * 1_000_000_000L + FakeFs.CTIME.nsec(), nanos(a.get("ctime")));
        assertEquals(FakeFs.ATIME.sec() * 1_000_000_000L + FakeFs.ATIME.nsec(), nanos(a.get("lastAccessTime")));
        // a hardlink is the same inode under a second name
        assertEquals(257L, unix(mnt.resolve("hardlink.txt")).get("ino"));
        assertEquals(256L, unix(mnt).get("ino"));
    }

    @Test
    void specialFiles_keepTheirTypeAndDeviceNumbers() throws IOException {
        assertEquals(Stat.S_IFIFO, (int) unix(mnt.resolve("fifo")).get("mode") & Stat.S_IFMT);
        assertEquals(Stat.S_IFSOCK, (int) unix(mnt.resolve("sock")).get("mode") & Stat.S_IFMT);
        Map<String, Object> chr = unix(mnt.resolve("chr"));
        assertEquals(Stat.S_IFCHR | 0666, chr.get("mode"));
        assertEquals(FakeFs.glibcMakedev(1, 3), chr.get("rdev"));
        Map<String, Object> blk = unix(mnt.resolve("blk"));
        assertEquals(Stat.S_IFBLK | 0660, blk.get("mode"));
        assertEquals(FakeFs.glibcMakedev(259, 300_000), blk.get("rdev"));
    }

    @Test
    void symlinks_readBackTheirTarget() throws IOException {
        Path link = mnt.resolve("sub/link");
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(Path.of("../hello.txt"), Files.readSymbolicLink(link));
        assertArrayEquals(FakeFs.HELLO, Files.readAllBytes(link));
    }

    @Test
    void theRoot_listsEveryEntryOnce() throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(mnt)) {
            ds.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        List<String> want = new ArrayList<>(List.of("hello.txt", "hardlink.txt", "big.bin", "sub", "fifo", "sock",
                "chr", "blk", "huge", "bad.bin", "bug.bin", FakeFs.UNICODE_NAME));
        want.sort(null);
        assertEquals(want, names);
    }

    @Test
    void aUtf8Name_listsAndOpensWhateverTheLocale() throws Exception {
        // the shell globs the name from readdir and opens it: no Java string crosses the locale on the way
        Process p = new ProcessBuilder("sh", "-c", "cd \"$1\" && ls -f | grep '^p' && cat -- p*", "sh", mnt.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals(FakeFs.UNICODE_NAME + "\n" + new String(FakeFs.UNICODE_CONTENT, StandardCharsets.UTF_8), out);
    }

    @Test
    void aDirectoryOf100000Entries_listsCompletely() throws Exception {
        Path huge = mnt.resolve("huge");
        Set<String> seen = new HashSet<>();
        int count = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(huge)) {
            for (Path p : ds) {
                seen.add(p.getFileName().toString());
                count++;
            }
        }
        assertEquals(FakeFs.HUGE_ENTRIES, count, "entries listed");
        assertEquals(FakeFs.HUGE_ENTRIES, seen.size(), "distinct entries");
        assertTrue(seen.contains(FakeFs.hugeName(0)) && seen.contains(FakeFs.hugeName(FakeFs.HUGE_ENTRIES - 1)));
        // ls -f reads the directory with getdents only, "." and ".." included
        Process ls = new ProcessBuilder("sh", "-c", "ls -f \"$1\" | wc -l", "sh", huge.toString()).start();
        String lines = new String(ls.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, ls.waitFor());
        assertEquals(Integer.toString(FakeFs.HUGE_ENTRIES + 2), lines);
        // readdir carries inode numbers (use_ino): ls -i shows them without a stat
        Process lsi = new ProcessBuilder("sh", "-c", "ls -fi \"$1\" | grep -E ' entry-0(00000|99999)$' | sort",
                "sh", huge.toString()).start();
        String inos = new String(lsi.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, lsi.waitFor());
        assertEquals(FakeFs.hugeIno(0) + " " + FakeFs.hugeName(0) + "\n" + FakeFs.hugeIno(99_999) + " "
                + FakeFs.hugeName(99_999), inos);
        assertEquals(FakeFs.hugeIno(4242), unix(huge.resolve(FakeFs.hugeName(4242))).get("ino"));
    }

    @Test
    void aLargeFile_readsBackByteForByte() throws IOException {
        Path big = mnt.resolve("big.bin");
        assertEquals(FakeFs.BIG_SIZE, Files.size(big));
        long pos = 0;
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(big, StandardOpenOption.READ)) {
            while (true) {
                buf.clear();
                int n = ch.read(buf);
                if (n < 0) break;
                buf.flip();
                for (int i = 0; i < n; i++) {
                    if (buf.get(i) != FakeFs.bigByte(pos + i)) {
                        throw new AssertionError("big.bin differs at byte " + (pos + i));
                    }
                }
                pos += n;
            }
            assertEquals(FakeFs.BIG_SIZE, pos);
            // unaligned reads in the middle and across the end
            for (long at : new long[] {1, 4095, 12_345_677, FakeFs.BIG_SIZE - 5000}) {
                ByteBuffer b = ByteBuffer.allocate(10_001);
                int n = ch.read(b, at);
                assertEquals((int) Math.min(10_001, FakeFs.BIG_SIZE - at), n);
                for (int i = 0; i < n; i++) assertEquals(FakeFs.bigByte(at + i), b.get(i), "byte " + (at + i));
            }
        }
    }

    @Test
    void aDataChecksumFailure_isEioAndTheMountLivesOn() throws IOException {
        assertEquals(-EIO, preadErrno(mnt.resolve("bad.bin")));
        assertEquals(-EIO, preadErrno(mnt.resolve("bug.bin")));
        assertArrayEquals(FakeFs.HELLO, Files.readAllBytes(mnt.resolve("hello.txt")));
    }

    /** Opens {@code p}, reads 4 KiB at 0: the byte count, or minus the errno. */
    private static long preadErrno(Path p) {
        int fd = libc.open(p.toString(), 0, 0);
        assertTrue(fd >= 0, "open " + p + ": errno " + rt.getLastError());
        try {
            Pointer buf = Memory.allocateDirect(rt, 4096);
            long n = libc.pread(fd, buf, 4096, 0);
            return n >= 0 ? n : -rt.getLastError();
        } finally {
            libc.close(fd);
        }
    }

    @Test
    void xattrs_probeTheirSizeAndSayErangeAndEnodata() {
        String hello = mnt.resolve("hello.txt").toString();
        Pointer buf = Memory.allocateDirect(rt, 1024);
        assertEquals(2, libc.lgetxattr(hello, "user.greeting", null, 0), "a size-0 probe gives the size");
        assertEquals(2, libc.lgetxattr(hello, "user.greeting", buf, 1024));
        byte[] v = new byte[2];
        buf.get(0, v, 0, 2);
        assertArrayEquals("hi".getBytes(StandardCharsets.UTF_8), v);
        assertEquals(300, libc.lgetxattr(hello, "user.big", null, 0));
        assertEquals(-1, libc.lgetxattr(hello, "user.big", buf, 299));
        assertEquals(ERANGE, rt.getLastError());
        assertEquals(-1, libc.lgetxattr(hello, "user.none", buf, 1024));
        assertEquals(ENODATA, rt.getLastError());
        assertEquals(3, libc.lgetxattr(hello, "trusted.t", buf, 1024));
        byte[] t = new byte[3];
        buf.get(0, t, 0, 3);
        assertArrayEquals(new byte[] {1, 0, 2}, t, "values are bytes, NULs included");

        String names = "user.greeting\0user.big\0trusted.t\0";
        long size = libc.llistxattr(hello, null, 0);
        assertEquals(names.length(), size);
        assertEquals(-1, libc.llistxattr(hello, buf, size - 1));
        assertEquals(ERANGE, rt.getLastError());
        assertEquals(size, libc.llistxattr(hello, buf, 1024));
        byte[] list = new byte[(int) size];
        buf.get(0, list, 0, list.length);
        assertEquals(Set.of("user.greeting", "user.big", "trusted.t"),
                new HashSet<>(Arrays.asList(new String(list, StandardCharsets.UTF_8).split("\0"))));
        assertEquals(0, libc.llistxattr(mnt.resolve("sub").toString(), null, 0), "no xattrs: an empty list");
    }

    @Test
    void everyChange_isErofs() {
        String m = mnt.toString();
        Pointer v = Memory.allocateDirect(rt, 4);
        assertErofs(libc.open(m + "/hello.txt", 1 /* O_WRONLY */, 0), "open for writing");
        assertErofs(libc.open(m + "/hello.txt", 2 /* O_RDWR */, 0), "open read-write");
        assertErofs(libc.open(m + "/new.txt", 0101 /* O_CREAT|O_WRONLY */, 0644), "create");
        assertErofs(libc.open(m + "/hello.txt", 01000 /* O_TRUNC */, 0), "truncate at open");
        assertErofs(libc.mkdir(m + "/newdir", 0755), "mkdir");
        assertErofs(libc.unlink(m + "/hello.txt"), "unlink");
        assertErofs(libc.rmdir(m + "/sub"), "rmdir");
        assertErofs(libc.rename(m + "/hello.txt", m + "/moved.txt"), "rename");
        assertErofs(libc.symlink("hello.txt", m + "/sym"), "symlink");
        assertErofs(libc.link(m + "/hello.txt", m + "/link2"), "link");
        assertErofs(libc.chmod(m + "/hello.txt", 0600), "chmod");
        assertErofs(libc.truncate(m + "/hello.txt", 0), "truncate");
        assertErofs(libc.lsetxattr(m + "/hello.txt", "user.new", v, 4, 0), "setxattr");
        assertThrows(IOException.class, () -> Files.writeString(mnt.resolve("hello.txt"), "x"));
        assertArrayEquals(FakeFs.HELLO, assertDoesNotThrowRead(mnt.resolve("hello.txt")));
    }

    private static byte[] assertDoesNotThrowRead(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertErofs(long result, String what) {
        assertEquals(-1, result, what + " succeeded");
        assertEquals(EROFS, rt.getLastError(), what);
    }

    @Test
    void statfs_reportsTheFilesystemFigures() throws IOException {
        FileStore store = Files.getFileStore(mnt);
        assertEquals(FakeFs.STATFS.blocks() * 4096, store.getTotalSpace());
        assertEquals(FakeFs.STATFS.blocksFree() * 4096, store.getUnallocatedSpace());
        assertEquals(FakeFs.STATFS.blocksAvailable() * 4096, store.getUsableSpace());
        assertTrue(store.isReadOnly());
        assertEquals("fuse.jbtrfs", store.type());
    }

    @Test
    void missingNamesAndNonDirectories_failAsTheKernelDoes() {
        assertFalse(Files.exists(mnt.resolve("nope")));
        assertFalse(Files.exists(mnt.resolve("huge/entry-100000")));
        assertThrows(NotDirectoryException.class, () -> Files.newDirectoryStream(mnt.resolve("hello.txt")).close());
        FileSystemException e = assertThrows(FileSystemException.class,
                () -> Files.readAllBytes(mnt.resolve("hello.txt/x")));
        assertEquals("Not a directory", e.getReason());
    }
}
