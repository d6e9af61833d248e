package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * The command line as a user meets it: one-line errors with a non-zero exit for every refusal, EIO exactly where
 * an image is damaged, a huge directory listed completely, and {@code info} agreeing with dump-super.
 */
@ExtendWith(MountPrereqs.Fuse.class)
class CommandLineTest {
    @TempDir
    Path tmp;
    Path mnt;

    @BeforeEach
    void setUp() throws Exception {
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    private Path image() throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src" + System.nanoTime()));
        Files.write(src.resolve("good"), new byte[300_000]);
        byte[] b = new byte[300_000];
        new Random(1).nextBytes(b);
        Files.write(src.resolve("victim"), b);
        return Images.mkfs(tmp, src, 256);
    }

    /** The refusal: exit code 1 and exactly one line, "jbtrfs: ...". */
    private static String refusal(String... args) throws Exception {
        return Jbtrfs.refusal(args);
    }

    @Test
    void mountRefusals_areOneLine() throws Exception {
        assertEquals("image not found: " + tmp.resolve("nope.img"),
                refusal("mount", "--read-only", tmp.resolve("nope.img").toString(), mnt.toString()));
        Path image = image();
        assertEquals("mountpoint does not exist: " + tmp.resolve("nodir"),
                refusal("mount", "--read-only", image.toString(), tmp.resolve("nodir").toString()));
        Path zeros = tmp.resolve("zeros.img");
        try (RandomAccessFile raf = new RandomAccessFile(zeros.toFile(), "rw")) {
            raf.setLength(64 << 20);
        }
        assertEquals("not a Btrfs image: no superblock magic at 64 KiB",
                refusal("mount", "--read-only", zeros.toString(), mnt.toString()));
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            assertTrue(refusal("mount", "--read-only", image.toString(), mnt.toString())
                    .startsWith("mountpoint is busy: " + mnt));
        }
        assertEquals("not mounted: " + mnt, refusal("umount", mnt.toString()));
    }

    /**
     * bin/jbtrfs unmounts without a JVM, from the mount table and the daemon's pid and exit files: a daemon killed
     * before it could commit makes the unmount exit 1 in one line naming its log, and the mount is gone all the same;
     * a mount of another type is refused by name.
     */
    @Test
    void umountAfterTheDaemonWasKilled_exitsOneInOneLine_andUnmounts() throws Exception {
        assertEquals("/proc is a proc mount, not jbtrfs", refusal("umount", "/proc"));
        Path image = image();
        Shell.Result m = Jbtrfs.run("mount", "--read-only", image.toString(), mnt.toString());
        assertEquals(0, m.exitCode(), m.output());
        String pid = Jbtrfs.daemonPid(mnt);
        Shell.sh("kill -KILL " + pid + "; while [ \"$(sed 's/.*) //; s/ .*//' /proc/" + pid
                + "/stat 2>/dev/null || echo gone)\" != Z ] && kill -0 " + pid + " 2>/dev/null; do sleep 0.05; done");
        String line = refusal("umount", mnt.toString());
        assertTrue(line.matches("unmounted, but (the daemon \\(pid " + pid + "\\) did not shut down cleanly|its daemon "
                + "\\(pid " + pid + "\\) had died before) \\(log /\\S+\\.log\\)"), line);
        assertEquals(false, Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " "),
                "still mounted after umount");
    }

    /**
     * An unmount whose daemon has exited after its last commit by the time the command reads its records, while the
     * next mount at the same mountpoint starts (fstests generic/604 mounts 10 ms after a background unmount): the
     * unmount exits 0 saying nothing, and the next daemon's unmount still finds and waits for it. The old daemon is
     * stopped once unmounted (unless it has exited already) and let go only when the new one has the image open.
     */
    @Test
    void umountOverlappingTheNextMountAtTheSameMountpoint_exitsZeroSilently_andTheNextUmountWaits() throws Exception {
        Images.requireRootAndLoop();
        Path image = image();
        Jbtrfs.mountReadWrite(image, mnt);
        try {
            overlapUmountsAndMounts(image);
        } finally {
            if (Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " ")) Jbtrfs.unmount(mnt);
        }
        Path kernel = Files.createDirectory(tmp.resolve("kernel"));
        Images.withKernelMount(image, kernel, "ro", () -> {
            assertEquals("2\n", Shell.sh("cat c2_50", kernel));
            return null;
        });
    }

    private void overlapUmountsAndMounts(Path image) throws Exception {
        for (int cycle = 0; cycle < 3; cycle++) {
            Shell.sh("for i in $(seq 1 50); do echo " + cycle + " > c" + cycle + "_$i; done", mnt);
            String old = Jbtrfs.daemonPid(mnt);
            String script = Jbtrfs.launcher() + " umount " + mnt + " > " + tmp + "/umount.out 2>&1 & u=$!; "
                    + "while grep -q ' " + mnt + " ' /proc/self/mounts; do sleep 0.01; done; kill -STOP " + old + " 2>/dev/null; "
                    + Jbtrfs.launcher() + " " + Jbtrfs.mountWords() + " " + image + " " + mnt + " > " + tmp
                    + "/mount.out 2>&1 & m=$!; "
                    + "for i in $(seq 1 300); do kill -0 $m 2>/dev/null || break; "
                    + "find /proc/[0-9]*/fd -maxdepth 1 -lname '" + image + "' 2>/dev/null | grep -qv '^/proc/" + old
                    + "/' && break; sleep 0.05; done; kill -CONT " + old + " 2>/dev/null; "
                    + "wait $m; echo mount $?; wait $u; echo umount $?; cat " + tmp + "/umount.out";
            Shell.Result r = Shell.attempt(List.of("sh", "-c", script));
            assertEquals("mount 0\numount 0\n", r.stdout(), "cycle " + cycle + ": " + r.output());
            assertEquals(cycle + "\n", Shell.sh("cat c" + cycle + "_50", mnt));
        }
        String last = Jbtrfs.daemonPid(mnt);
        Shell.Result u = Jbtrfs.run("umount", mnt.toString());
        assertEquals(0, u.exitCode(), u.output());
        assertEquals("", u.output());
        String state = Shell.sh("sed 's/.*) //' /proc/" + last + "/stat 2>/dev/null | cut -c1; true").trim();
        assertTrue(state.isEmpty() || state.equals("Z"), "the last umount returned before daemon " + last
                + " exited (state " + state + ")");
    }

    @Test
    void damagedSuperblocksAndFeatures_areRefusedByName() throws Exception {
        Path image = image();
        ImageDamage.patchSuperblocks(image, b -> b.putLong(188, b.getLong(188) | (1L << 13)));
        assertEquals("unsupported incompat feature: extent_tree_v2 (flags 0x2000)",
                refusal("mount", "--read-only", image.toString(), mnt.toString()));
        Path bad = image();
        for (long off : new long[] {64L << 10, 64L << 20}) ImageDamage.flipByte(bad, off + 300);
        assertTrue(refusal("mount", "--read-only", bad.toString(), mnt.toString())
                .contains("bad superblock checksum on every copy"));
        Path truncated = image();
        try (RandomAccessFile raf = new RandomAccessFile(truncated.toFile(), "rw")) {
            raf.setLength(100 << 20);
        }
        assertTrue(refusal("mount", "--read-only", truncated.toString(), mnt.toString())
                .startsWith("image is truncated"));
    }

    @Test
    void damagedData_isEioForThatFileOnly() throws Exception {
        Path image = image();
        ImageDamage.flipByte(image, ImageDamage.physical(image, ImageDamage.firstExtentOf(image, "victim")) + 5000);
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            Shell.Result cat = Shell.attempt(List.of("cat", mnt.resolve("victim").toString()));
            assertTrue(cat.exitCode() != 0 && cat.output().contains("Input/output error"), cat.output());
            Shell.Result tail = Shell.attempt(List.of("dd", "if=" + mnt.resolve("victim"), "of=/dev/null", "bs=4096",
                    "skip=10", "iflag=direct"));
            assertEquals(0, tail.exitCode(), "sectors past the damage read fine: " + tail.output());
            assertEquals(300_000, Files.readAllBytes(mnt.resolve("good")).length);
        }
    }

    @Test
    void directoryOf100kEntries_listsCompletely() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("bigsrc/big"));
        for (int i = 0; i < 100_000; i++) Files.createFile(src.resolve("f" + i));
        Path image = Images.mkfs(tmp, tmp.resolve("bigsrc"), 512);
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            assertEquals("100002", Shell.sh("ls -f " + mnt.resolve("big") + " | wc -l").trim());
            try (var list = Files.list(mnt.resolve("big"))) {
                assertEquals(100_000, list.map(p -> p.getFileName().toString()).distinct().count());
            }
        }
    }

    @Test
    void info_agreesWithDumpSuper() throws Exception {
        Path image = image();
        Shell.Result r = Jbtrfs.run("info", image.toString());
        assertEquals(0, r.exitCode(), r.output());
        String sb = Shell.run(List.of("btrfs", "inspect-internal", "dump-super", image.toString()));
        Matcher fsid = Pattern.compile("^fsid\\s+(\\S+)", Pattern.MULTILINE).matcher(sb);
        Matcher gen = Pattern.compile("^generation\\s+(\\d+)", Pattern.MULTILINE).matcher(sb);
        assertTrue(fsid.find() && gen.find());
        assertTrue(r.output().contains("fsid:               " + fsid.group(1)), r.output());
        assertTrue(r.output().contains("generation:         " + gen.group(1)), r.output());
        assertTrue(r.output().contains("mixed_backref, extended_iref, skinny_metadata, no_holes"), r.output());
        assertTrue(r.output().matches("(?s).*METADATA\\s+DUP\\s+1.*"), r.output());
    }

    @Test
    void benchDevice_printsJsonLast() throws Exception {
        Path file = tmp.resolve("bench.img");
        Shell.Result r = Jbtrfs.run("bench-device", "--file", file.toString(), "--size", "16M", "--rw", "randread",
                "--bs", "4k", "--qd", "4", "--seconds", "1", "--backend", "nio");
        assertEquals(0, r.exitCode(), r.output());
        List<String> lines = r.output().lines().filter(l -> !l.isBlank()).toList();
        String last = lines.get(lines.size() - 1);
        assertTrue(last.matches("\\{\"backend\":\"nio\",\"rw\":\"randread\",\"bs\":4096,\"qd\":4,\"iops\":[0-9.]+,"
                + "\"mib_s\":[0-9.]+,\"p50_us\":[0-9.]+,\"p99_us\":[0-9.]+}"), last);
    }

    @Test
    void unicodeNames_surviveACLocale() throws Exception {
        Path src = Files.createDirectory(tmp.resolve("usrc"));
        String name = "unicod\u00e9-\u4e2d\u6587-\uD83D\uDE00";
        Files.writeString(src.resolve(name), "u");
        Path image = Images.mkfs(tmp, src, 256);
        // as a container or CI job without a locale starts us
        String env = "env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C LC_ALL=C ";
        Shell.sh(env + Jbtrfs.launcher() + " " + Jbtrfs.mountWords() + " --read-only " + image + " " + mnt);
        try {
            assertEquals("u", Files.readString(mnt.resolve(name)));
            try (var list = Files.list(mnt)) {
                assertEquals(List.of(name), list.map(p -> p.getFileName().toString()).toList());
            }
        } finally {
            Shell.sh(Jbtrfs.launcher() + " umount " + mnt);
        }
    }

    @Test
    void readOnlyMount_refusesWritesWithErofs() throws Exception {
        Path image = image();
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            Shell.Result touch = Shell.attempt(List.of("touch", mnt.resolve("new").toString()));
            assertTrue(touch.output().contains("Read-only file system"), touch.output());
            Shell.Result rm = Shell.attempt(List.of("rm", "-f", mnt.resolve("good").toString()));
            assertTrue(rm.output().contains("Read-only file system"), rm.output());
        }
    }
}
