package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * renameat2's RENAME_EXCHANGE and RENAME_NOREPLACE: one sequence of calls on the kernel's Btrfs (python ctypes,
 * syscall 316) and through our API on a copy of the same image gives the same errno at every step and the same
 * tree (names, inode numbers, nlink, sizes, which times moved), and btrfs check finds nothing wrong with ours.
 */
class RenameFlagsTest {
    private static final String SETUP = """
            mkdir d1 d2 d1/sub d2/e
            echo a > d1/a && echo b > d2/b && echo c > c && echo s > s && echo x > d2/e/x
            echo h > h1 && ln h1 h2 && echo p > p && echo qq > q && echo inner > d1/sub/inner
            btrfs -q subvolume create sv && echo f > sv/f
            sync
            """;
    /** flags, old path, new path: 2 is RENAME_EXCHANGE, 1 RENAME_NOREPLACE. */
    private static final List<String[]> STEPS = List.of(
            step(2, "d1/a", "d2/b"),        // files across directories
            step(2, "c", "d1/sub"),         // a file and a non-empty directory
            step(2, "p", "q"),              // in one directory
            step(2, "d2/e", "d1"),          // directories across, d1 moves under d2
            step(2, "h1", "h2"),            // two names of one inode: nothing happens
            step(2, "nope", "s"),           // ENOENT
            step(2, "s", "nope"),           // ENOENT
            step(2, "d1", "d1/x"),          // EINVAL: a directory with its own child
            step(2, "d1/x", "d1"),          // EINVAL
            step(2, "s", "sv/f"),           // EXDEV
            step(3, "s", "p"),              // EINVAL: EXCHANGE with NOREPLACE
            step(1, "s", "p"),              // EEXIST
            step(1, "s", "s-new"),          // a plain move
            step(0, "p", "q"),              // plain rename over a file
            step(0, "c", "d2"));            // ENOTEMPTY (d2 holds names)

    @TempDir
    Path dir;

    private static String[] step(int flags, String from, String to) {
        return new String[] {Integer.toString(flags), from, to};
    }

    @Test
    void exchangeAndNoreplace_sameErrnosAndTreeAsKernel() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.kernelWritten(dir, 128, "", SETUP);
        Path mnt = Files.createTempDirectory(dir, "mnt");
        Map<String, String> before = TreeListing.ofKernelMount(image, dir, "");
        Path ours = dir.resolve("ours.img");
        Files.copy(image, ours, StandardCopyOption.REPLACE_EXISTING);

        List<String> kernelErrnos = kernelRenames(image, mnt);
        List<String> ourErrnos = new ArrayList<>();
        try (Filesystem fs = Filesystem.open(ours, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            for (String[] s : STEPS) ourErrnos.add(ourRename(ops, Integer.parseInt(s[0]), s[1], s[2]));
        }
        assertEquals(kernelErrnos, ourErrnos, "errno of each step");
        BtrfsCheck.assertClean(ours, "after our renames");
        Map<String, String> kernelTree = movedTimes(before, TreeListing.ofKernelMount(image, dir, ""));
        Map<String, String> ourTree = movedTimes(before, TreeListing.ofKernelMount(ours, dir, ""));
        assertEquals(List.of(), TreeListing.differences(kernelTree, ourTree, 10));
        assertEquals(readdirOrder(image, mnt), readdirOrder(ours, mnt), "readdir order (the dir indexes)");
    }

    /** Every directory's names in readdir order, which on Btrfs is DIR_INDEX order, as the kernel lists them. */
    private static String readdirOrder(Path image, Path mnt) throws Exception {
        return Images.withKernelMount(image, mnt, "ro", () -> Shell.stdout(List.of("python3", "-c", """
                import os, sys
                for d, dirs, files in sorted(os.walk(sys.argv[1])):
                    print(os.path.relpath(d, sys.argv[1]), os.listdir(d))
                """, mnt.toString())));
    }

    @Test
    void whiteoutAndUnknownFlags_areRefused() throws Exception {
        Images.requireMkfs();
        Path src = Files.createDirectory(dir.resolve("src"));
        Files.writeString(src.resolve("a"), "a");
        Path image = Images.mkfs(dir, src, 128);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            assertErrno(Errno.EINVAL, () -> ops.rename(ops.root(), "a", ops.root(), "b", 4));
            assertErrno(Errno.EINVAL, () -> ops.rename(ops.root(), "a", ops.root(), "b", 8));
            assertErrno(Errno.EINVAL, () -> ops.rename(ops.root(), "a", ops.root(), "b", 6));
            ops.lookup(ops.root(), "a");
        }
    }

    /** Runs every step with renameat2 on a kernel mount; each step's errno name, or "0". */
    private List<String> kernelRenames(Path image, Path mnt) throws Exception {
        String script = """
                import ctypes, errno, os, sys
                libc = ctypes.CDLL(None, use_errno=True)
                os.chdir(sys.argv[1])
                args = sys.argv[2:]
                for i in range(0, len(args), 3):
                    r = libc.syscall(316, -100, args[i + 1].encode(), -100, args[i + 2].encode(), int(args[i]))
                    print(0 if r == 0 else errno.errorcode[ctypes.get_errno()])
                """;
        List<String> cmd = new ArrayList<>(List.of("python3", "-c", script, mnt.toString()));
        for (String[] s : STEPS) cmd.addAll(List.of(s));
        return Images.withKernelMount(image, mnt, "", () -> List.of(Shell.stdout(cmd).trim().split("\n")));
    }

    private static String ourRename(FsOperations ops, int flags, String from, String to) throws Exception {
        try {
            InodeId fromDir = ops.resolve(parent(from));
            InodeId toDir = ops.resolve(parent(to));
            ops.rename(fromDir, base(from), toDir, base(to), flags);
            return "0";
        } catch (FsException e) {
            return e.errno().name();
        }
    }

    private static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "/" : "/" + path.substring(0, slash);
    }

    private static String base(String path) { return path.substring(path.lastIndexOf('/') + 1); }

    private static final Pattern TIMES = Pattern.compile("mtime=(\\d+) ctime=(\\d+) ino=(\\d+)");

    /** The listing with each time replaced by whether it moved since {@code before} (inodes found by number). */
    private static Map<String, String> movedTimes(Map<String, String> before, Map<String, String> after) {
        Map<String, String[]> was = new HashMap<>();
        for (Map.Entry<String, String> e : before.entrySet()) {
            Matcher m = TIMES.matcher(e.getValue());
            if (m.find()) was.put(subvolume(e.getKey()) + m.group(3), new String[] {m.group(1), m.group(2)});
        }
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, String> e : after.entrySet()) {
            Matcher m = TIMES.matcher(e.getValue());
            if (!m.find()) throw new AssertionError("no times in " + e.getValue());
            String[] old = was.get(subvolume(e.getKey()) + m.group(3));
            String moved = old == null ? "mtime=new ctime=new"
                    : "mtime=" + (old[0].equals(m.group(1)) ? "same" : "moved") + " ctime="
                    + (old[1].equals(m.group(2)) ? "same" : "moved");
            out.put(e.getKey(), m.replaceFirst(moved + " ino=" + m.group(3)));
        }
        return out;
    }

    private static String subvolume(String path) { return path.startsWith("/sv") ? "sv:" : ""; }
}
