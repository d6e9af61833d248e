package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * SEEK_DATA and SEEK_HOLE from the extents equal the kernel's lseek answers at every 4 KiB offset (and one byte
 * into each) of files the kernel wrote: NO_HOLES gaps and explicit holes, prealloc extents, punched holes,
 * compressed and inline extents, unaligned sizes; and of files we wrote, as the kernel reads them.
 */
class SeekDataTest {
    /** Files of every extent kind; sizes kept small so the python side stays well under a second. */
    private static final String LAYOUTS = """
            set +o pipefail
            xfs_io -f -c 'pwrite -q 1048576 4096' -c 'pwrite -q 3145728 4096' sparse
            fallocate -l 1M prealloc && xfs_io -c 'pwrite -q 262144 8192' prealloc
            fallocate -n -o 1048576 -l 262144 prealloc
            touch keepsize && fallocate -n -l 131072 keepsize
            fallocate -l 131072 allprealloc
            head -c 600000 /dev/urandom > punched && fallocate -p -o 81920 -l 204800 punched
            echo hello > inline
            head -c 3000 /dev/urandom > unaligned && truncate -s 10000 unaligned
            mkdir c && chattr +c c
            yes abcdefgh | head -c 300000 > c/compressed
            xfs_io -f -c 'pwrite -q 0 65536' -c 'pwrite -q 524288 200000' c/compressed-sparse
            head -c 40000 /dev/urandom > tail && truncate -s 200000 tail
            xfs_io -c 'pwrite -q 180000 100' tail
            sync
            """;
    private static final List<String> FILES = List.of("sparse", "prealloc", "keepsize", "allprealloc", "punched",
            "inline", "unaligned", "c/compressed", "c/compressed-sparse", "tail");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"-O no-holes", "-O ^no-holes"})
    void kernelWrittenFiles_answersEqualKernelsLseek(String mkfsOptions) throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.kernelWritten(dir, 128, "", LAYOUTS, mkfsOptions.split(" "));
        assertSame(kernelAnswers(image, Files.createTempDirectory(dir, "mnt"), FILES), ourAnswers(image, FILES));
    }

    @Test
    void ourWrites_answersEqualKernelsLseek() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 128);
        List<String> live; // answered from the running transaction, before any commit
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "ours", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 1 << 20, ByteBuffer.wrap(new byte[5000]));
            ops.write(f, 3 << 20, ByteBuffer.wrap(new byte[4096]));
            ops.fallocate(f, FsOperations.FALLOC_FL_KEEP_SIZE, 2 << 20, 65536);
            ops.fallocate(f, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE, 1 << 20, 4096);
            InodeId g = ops.mknod(ops.root(), "prealloc", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.fallocate(g, 0, 0, 262144);
            ops.write(g, 65536, ByteBuffer.wrap(new byte[8192]));
            ops.truncate(g, 300000);
            // every byte of i_size stored, all of it prealloc: the PREALLOC flag keeps it off the quick path
            ops.fallocate(ops.mknod(ops.root(), "allprealloc", Stat.S_IFREG | 0644, 0, 0, 0), 0, 0, 131072);
            live = answers(ops, List.of("ours", "prealloc", "allprealloc"));
        }
        List<String> files = List.of("ours", "prealloc", "allprealloc");
        Path mnt = Files.createTempDirectory(dir, "mnt");
        List<String> kernel = kernelAnswers(image, mnt, files);
        assertSame(kernel, live);
        assertSame(kernel, ourAnswers(image, files));
    }

    @Test
    void atOrPastEof_isEnxio() throws Exception {
        Images.requireMkfs();
        Path src = Files.createDirectory(dir.resolve("src"));
        Files.write(src.resolve("f"), new byte[8192]);
        Path image = Images.mkfs(dir, src, 128);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.lookup(ops.root(), "f");
            assertEquals(8192, ops.seekData(f, 100, true));
            assertEquals(100, ops.seekData(f, 100, false));
            for (boolean hole : new boolean[] {false, true}) {
                assertTrue(throwsEnxio(() -> ops.seekData(f, 8192, hole)), "at EOF, hole=" + hole);
                assertTrue(throwsEnxio(() -> ops.seekData(f, 1 << 20, hole)), "past EOF, hole=" + hole);
            }
        }
    }

    /** Equal answers, or the first few that differ ("kernel | ours"). */
    private static void assertSame(List<String> kernel, List<String> ours) {
        List<String> diff = new ArrayList<>();
        for (int i = 0; i < Math.max(kernel.size(), ours.size()) && diff.size() < 10; i++) {
            String k = i < kernel.size() ? kernel.get(i) : "-";
            String o = i < ours.size() ? ours.get(i) : "-";
            if (!k.equals(o)) diff.add(k + " | " + o);
        }
        assertEquals(List.of(), diff, "file offset SEEK_DATA SEEK_HOLE: kernel | ours");
        assertTrue(kernel.size() > 100, "the kernel answered " + kernel.size() + " lines");
    }

    private interface Seek {
        long run() throws Exception;
    }

    private static boolean throwsEnxio(Seek s) throws Exception {
        try {
            s.run();
            return false;
        } catch (FsException e) {
            if (e.errno() != Errno.ENXIO) throw e;
            return true;
        }
    }

    /** "file offset data hole" lines from lseek on a read-only kernel mount; -1 for ENXIO. */
    private static List<String> kernelAnswers(Path image, Path mnt, List<String> files) throws Exception {
        String script = """
                import os, sys
                def seek(fd, off, how):
                    try:
                        return os.lseek(fd, off, how)
                    except OSError:
                        return -1
                os.chdir(sys.argv[1])
                for name in sys.argv[2:]:
                    fd = os.open(name, os.O_RDONLY)
                    size = os.fstat(fd).st_size
                    for base in range(0, size + 8192, 4096):
                        for off in (base, base + 1):
                            print(name, off, seek(fd, off, os.SEEK_DATA), seek(fd, off, os.SEEK_HOLE))
                    os.close(fd)
                """;
        List<String> cmd = new ArrayList<>(List.of("python3", "-c", script, mnt.toString()));
        cmd.addAll(files);
        return Images.withKernelMount(image, mnt, "ro", () -> List.of(Shell.stdout(cmd).split("\n")));
    }

    private static List<String> ourAnswers(Path image, List<String> files) throws Exception {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            return answers(fs.operations(), files);
        }
    }

    private static List<String> answers(FsOperations ops, List<String> files) throws Exception {
        List<String> out = new ArrayList<>();
        for (String name : files) {
            InodeId f = ops.resolve("/" + name);
            long size = ops.stat(f).size();
            for (long base = 0; base < size + 8192; base += 4096) {
                for (long off : new long[] {base, base + 1}) {
                    out.add(name + " " + off + " " + seek(ops, f, off, false) + " " + seek(ops, f, off, true));
                }
            }
        }
        return out;
    }

    private static long seek(FsOperations ops, InodeId f, long off, boolean hole) throws Exception {
        try {
            return ops.seekData(f, off, hole);
        } catch (FsException e) {
            if (e.errno() != Errno.ENXIO) throw e;
            return -1;
        }
    }
}
