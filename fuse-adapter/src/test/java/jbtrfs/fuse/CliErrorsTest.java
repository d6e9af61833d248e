package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's refusals: one line on stderr naming the problem, a non-zero exit, no stack trace. */
class CliErrorsTest {
    @TempDir
    Path dir;

    /** Runs the command line; returns exit code and stderr. */
    private static Result run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = JbtrfsCommand.run(args);
            return new Result(code, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(old);
        }
    }

    private record Result(int code, String err) {
        void isOneLine(String expected) {
            assertTrue(code != 0, "exit code " + code);
            assertEquals(1, err.lines().count(), err);
            assertTrue(err.startsWith("jbtrfs: ") && err.contains(expected), err);
            assertFalse(err.contains("\tat "), err);
        }
    }

    @Test
    void commandGroupAlone_isAUsageErrorNamingItsSubcommands() {
        for (String[] group : List.of(
                new String[] {"subvolume", "create, delete, list, snapshot, get-default, set-default, show"},
                new String[] {"filesystem", "sync, df, usage"}, new String[] {"property", "get, set"},
                new String[] {"scrub", "start, status, cancel"})) {
            Result r = run(group[0]);
            assertEquals(2, r.code(), group[0]);
            assertEquals("missing subcommand (" + group[1] + ")", r.err().lines().findFirst().orElse(""), group[0]);
        }
    }

    @Test
    void btrfsCommands_offAnyBtrfs_refuseInOneLineWithTheErrno() throws Exception {
        // a directory of the build's filesystem (not Btrfs, not jbtrfs) answers no btrfs ioctl: ENOTTY
        String type = Files.getFileStore(dir).type();
        Assumptions.assumeFalse(type.startsWith("btrfs") || type.contains("jbtrfs"), type);
        run("subvolume", "list", dir.toString())
                .isOneLine("cannot resolve rootid for path '" + dir + "': Inappropriate ioctl for device");
        run("filesystem", "df", dir.toString()).isOneLine("'" + dir + "': Inappropriate ioctl for device");
        run("filesystem", "sync", dir.toString()).isOneLine("sync failed on '" + dir + "'");
        run("property", "get", dir.resolve("missing").toString(), "ro")
                .isOneLine("cannot access '" + dir.resolve("missing") + "': No such file or directory");
        run("property", "set", dir.toString(), "ro", "maybe").isOneLine("invalid value for property: maybe");
        run("subvolume", "create", dir.resolve("sv").toString()).isOneLine("cannot create subvolume in");
    }

    @Test
    void mount_refusesWhatCannotWorkBeforeStartingAnything() throws Exception {
        Path img = Files.write(dir.resolve("a.img"), new byte[4096]);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path file = Files.createFile(dir.resolve("file"));
        run("mount", "--read-only", dir.resolve("missing.img").toString(), mnt.toString())
                .isOneLine("image not found: " + dir.resolve("missing.img"));
        run("mount", "--read-only", img.toString(), dir.resolve("nowhere").toString())
                .isOneLine("mountpoint does not exist: " + dir.resolve("nowhere"));
        run("mount", "--read-only", img.toString(), file.toString())
                .isOneLine("mountpoint is not a directory: " + file);
        run("mount", "--read-only", img.toString(), "/proc").isOneLine("mountpoint is busy: /proc already has a proc mount");
        run("mount", "--read-only", "-o", "threads=none", img.toString(), mnt.toString()).isOneLine("threads");
        run("mount", "--read-only", "--device-backend", "uring", img.toString(), mnt.toString())
                .isOneLine("unknown device backend 'uring' (expected aio, nio or auto)");
        run("mount", "-o", "nologreplay", img.toString(), mnt.toString())
                .isOneLine("nologreplay needs a read-only mount (--read-only or -o ro)");
    }

    @Test
    void mountDaemon_parsedWithoutTheOtherCommands_refusesAsTheFullCommandLineDoes() {
        // bin/jbtrfs starts the daemon as `mount --detached ...`, which builds only mount's model: its refusals of
        // arguments (made before it detaches) must read as those of the full command line
        List<List<String>> bad = List.of(List.of(), List.of("--bogus", "a", "b"), List.of("only-image"),
                List.of("-o"), List.of("a", "b", "c"));
        for (List<String> args : bad) {
            List<String> daemon = new ArrayList<>(List.of("mount", "--detached"));
            daemon.addAll(args);
            List<String> full = new ArrayList<>(List.of("mount"));
            full.addAll(args);
            Result viaDaemon = run(daemon.toArray(String[]::new));
            Result viaFull = run(full.toArray(String[]::new));
            assertEquals(2, viaFull.code, viaFull.err);
            assertEquals(viaFull.code, viaDaemon.code, String.join(" ", daemon));
            assertEquals(viaFull.err, viaDaemon.err, String.join(" ", daemon));
            assertTrue(viaDaemon.err.contains("Usage: jbtrfs mount "), viaDaemon.err);
        }
    }

    @Test
    void umountOfSomethingElse_saysWhatItIs() {
        run("umount", dir.toString()).isOneLine("not mounted: " + dir);
        run("umount", dir.resolve("nowhere").toString()).isOneLine("mountpoint does not exist");
        run("umount", "/proc").isOneLine("/proc is a proc mount, not jbtrfs");
    }

    @Test
    void theDaemonError_isItsOwnLastLineWithLibfuseReason() throws Exception {
        Path log = dir.resolve("d.log");
        Files.write(log, List.of("2026-11-25T06:00:00.000 [main] INFO Filesystem - opened x",
                "fuse: mountpoint is not empty", "jbtrfs: FUSE refused to mount /mnt"));
        assertEquals("FUSE refused to mount /mnt (fuse: mountpoint is not empty)", MountCommand.lastProblem(log));
        Files.write(log, List.of("2026-11-25T06:00:00.000 [main] WARN x - y",
                "jbtrfs: unsupported incompat feature: raid56"));
        assertEquals("unsupported incompat feature: raid56", MountCommand.lastProblem(log));
        Files.write(log, List.of("Exception in thread \"main\" java.lang.OutOfMemoryError", "\tat x.y(Z.java:1)"));
        assertTrue(MountCommand.lastProblem(log).startsWith("the daemon failed: at x.y(Z.java:1) (log "));
        Files.write(log, "fuse: unknown option `\u00ff\u00fe'\njbtrfs: FUSE refused to mount /mnt\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        assertEquals("FUSE refused to mount /mnt (fuse: unknown option `\ufffd\ufffd')", MountCommand.lastProblem(log));
        Files.write(log, new byte[0]);
        assertTrue(MountCommand.lastProblem(log).startsWith("the daemon exited without a word"));
    }

    @Test
    void umount_countsAnUnreapedDaemonAsExitedAndTimesOutOnALiveOne() throws Exception {
        Process quick = new ProcessBuilder("sleep", "0.2").start();
        assertTrue(UmountCommand.waitForExit(quick.toHandle(), 10_000));
        Process slow = new ProcessBuilder("sleep", "30").start();
        try {
            assertFalse(UmountCommand.waitForExit(slow.toHandle(), 200));
        } finally {
            slow.destroyForcibly();
        }
    }
}
