package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * What bin/jbtrfs does for a quick mount: it maps the build's class data sharing archive, and a mount is one JVM,
 * started in its own session in the background, that tells the launcher its one line and serves on.
 */
class LauncherTest {
    private static final Pattern MOUNTED = Pattern.compile("jbtrfs: mounted (\\S+) at (\\S+) \\(daemon pid (\\d+), log (\\S+)\\)");

    @TempDir
    Path tmp;

    @Test
    void launcher_mapsTheBuildsClassArchive() throws Exception {
        // the JVM names where each class came from: ours come from the archive, not from the jar
        String out = Shell.run(List.of(Jbtrfs.launcher().toString(), "--version"),
                Map.of("JBTRFS_JAVA_OPTS", "-Xlog:class+load=info:stdout"), Duration.ofMinutes(2));
        assertTrue(out.contains("jbtrfs.fuse.JbtrfsCommand source: shared objects file"),
                "JbtrfsCommand not from the archive: " + out.lines().filter(l -> l.contains("JbtrfsCommand")).toList());
    }

    @Test
    void mount_returnsOneLineWhileItsOwnDaemonServes() throws Exception {
        Prereq.requireFuse();
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve("hello"), "hello\n");
        Path image = Images.mkfs(tmp, src, 256);
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Shell.Result r = Jbtrfs.run("mount", "--read-only", image.toString(), mnt.toString());
        try {
            assertEquals(0, r.exitCode(), r.output());
            List<String> lines = r.output().lines().filter(l -> !l.isBlank()).toList();
            assertEquals(1, lines.size(), "one line: " + r.output());
            Matcher m = MOUNTED.matcher(lines.get(0));
            assertTrue(m.matches(), lines.get(0));
            assertEquals("hello\n", Files.readString(mnt.resolve("hello")));
            long pid = Long.parseLong(m.group(3));
            // the daemon is the JVM that served the mount, the leader of a session of its own (no terminal's
            // hangup reaches it), and its own output went to its log
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            assertEquals(pid, Long.parseLong(f[3]), "session of " + pid);
            assertTrue(Files.readString(Path.of("/proc/" + pid + "/cmdline")).contains("--detached"));
            assertTrue(Files.readString(Path.of(m.group(4))).contains("mounting " + image), m.group(4));
        } finally {
            Jbtrfs.cleanUp(mnt, r.output());
        }
    }

    @Test
    void mountUsageError_exitsTwoWithPicocliUsage() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Jbtrfs.launcher().toString(), "mount", "--no-such-option",
                tmp.resolve("a.img").toString(), tmp.toString()));
        Shell.Result r = Shell.attempt(cmd);
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("Unknown option: '--no-such-option'"), r.output());
    }
}
