package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * {@code -o io_uring} (native transport only): a write and read workload on a mount served over FUSE's io_uring
 * prints what it prints on the kernel's Btrfs, btrfs check is clean, and the daemon's log counts the requests that
 * came over the ring; with the kernel's enable_uring N the mount says once why it reads /dev/fuse and serves as
 * ever. Each test sets the module parameter for its mount and puts it back.
 */
class IoUringThroughMountTest {
    private static final Path ENABLE_URING = Path.of("/sys/module/fuse/parameters/enable_uring");
    private static final Pattern COUNTS =
            Pattern.compile("FUSE over io_uring: (\\d+) requests over the ring, (\\d+) over /dev/fuse");
    private static final String NOT_USED = "FUSE over io_uring is not used";

    /** Copies, 1 MiB and 4 KiB writes of known bytes (a seeded generator), reads back, renames, removals. */
    static final String SCRIPT = """
            set -e
            cp -a /usr/include/linux tree
            python3 - <<'PY'
            import os, random
            rnd = random.Random(17)
            fd = os.open("data", os.O_RDWR | os.O_CREAT, 0o644)
            for i in range(8):
                os.pwrite(fd, rnd.randbytes(1 << 20), i << 20)
            for i in range(2000):
                os.pwrite(fd, rnd.randbytes(4096), rnd.randrange(2048) * 4096)
            os.fsync(fd)
            print("read back", len(os.pread(fd, 9 << 20, 0)))
            os.close(fd)
            PY
            mv tree/fuse.h tree/fuse-renamed.h; rm -f tree/n*.h; mkdir -p a/b; echo text > a/b/c
            sha256sum data a/b/c tree/fuse-renamed.h
            find tree | sort | sha256sum
            du -s --apparent-size tree data
            """;

    @TempDir
    Path dir;

    @Test
    void workloadOverTheRing_printsWhatTheKernelPrints_requestsCameOverTheRing() throws Exception {
        requireUringParameter();
        String was = setParameter("Y");
        SideBySide.Outputs out;
        try {
            out = SideBySide.run(dir, SCRIPT, 512, "-o", "transport=native,io_uring");
        } finally {
            setParameter(was);
        }
        assertEquals(out.kernel(), out.ours());
        BtrfsCheck.assertCleanWithData(out.ourImage(), "after a workload over io_uring");
        String log = finalLog(dir.resolve("mnt"));
        assertFalse(log.contains(NOT_USED), log);
        Matcher m = COUNTS.matcher(log);
        assertTrue(m.find(), "the daemon counts the ring's requests: " + log);
        long overRing = Long.parseLong(m.group(1));
        long overDevFuse = Long.parseLong(m.group(2));
        // INIT and FORGETs come over /dev/fuse; every other request over the ring
        assertTrue(overRing > 1000 && overRing > 20 * overDevFuse, overRing + " over the ring, " + overDevFuse
                + " over /dev/fuse");
    }

    @Test
    void enableUringN_mountSaysWhyOnce_andServesOverDevFuse() throws Exception {
        requireUringParameter();
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        Path image = Images.mkfs(Files.createDirectory(dir.resolve("img")), null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        String was = setParameter("N");
        String printed;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, "-o", "transport=native,io_uring")) {
            printed = Shell.sh("echo over-dev-fuse > f; cat f; ls", mnt);
        } finally {
            setParameter(was);
        }
        assertEquals("over-dev-fuse\nf\n", printed);
        String log = finalLog(mnt);
        List<String> lines = log.lines().filter(l -> l.contains(NOT_USED)).toList();
        assertEquals(1, lines.size(), log);
        assertTrue(lines.get(0).endsWith(NOT_USED + ": the kernel did not offer it at INIT (" + ENABLE_URING
                + " is N); requests are read from /dev/fuse"), lines.get(0));
        assertFalse(COUNTS.matcher(log).find(), "no ring served: " + log);
        BtrfsCheck.assertCleanWithData(image, "after a mount that fell back to /dev/fuse");
    }

    /** Skips on libfuse (no ring there) and where the kernel's fuse module has no enable_uring to set. */
    private static void requireUringParameter() {
        Jbtrfs.requireNativeTransport("FUSE over io_uring");
        Assumptions.assumeTrue(Files.isWritable(ENABLE_URING),
                "needs a writable " + ENABLE_URING + " (root, a kernel with FUSE over io_uring)");
    }

    /** Sets enable_uring; returns what it was. */
    private static String setParameter(String value) throws Exception {
        String was = Files.readString(ENABLE_URING).trim();
        Files.writeString(ENABLE_URING, value);
        return was;
    }

    /** The daemon's log once it has written its unmount line (the unmount may return a moment before). */
    private static String finalLog(Path mnt) throws Exception {
        Path log = Jbtrfs.log(mnt);
        for (int i = 0; i < 100; i++) {
            if (Files.exists(log) && Files.readString(log).contains("unmounted " + mnt)) break;
            Thread.sleep(100);
        }
        return Files.readString(log);
    }
}
