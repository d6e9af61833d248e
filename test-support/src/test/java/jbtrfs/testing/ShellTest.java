package jbtrfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShellTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    @Test
    void exec_mebibyteOnStderrBeforeStdoutEnds_readsBothWhole() throws Exception {
        // a pipe holds 64 KiB: a runner that reads stdout to its end before stderr waits here forever
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "echo start; head -c " + MIB + " /dev/zero | tr '\\0' e >&2; echo end");
        Shell.Result r = Shell.exec(pb, null, Duration.ofSeconds(60));
        assertEquals(0, r.exitCode());
        assertEquals("start\nend\n", r.stdout());
        assertEquals(MIB, r.stderr().length());
        assertTrue(r.stderr().chars().allMatch(c -> c == 'e'));
    }

    @Test
    void exec_pastTheLimit_killsTheCommandAndItsChildren() throws Exception {
        Path pid = tmp.resolve("pid");
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "sleep 600 & echo $! > " + pid + "; wait");
        IOException e = assertThrows(IOException.class, () -> Shell.exec(pb, null, Duration.ofMillis(500)));
        assertTrue(e.getMessage().startsWith("timed out after 0 s: [bash, -c, sleep 600"), e.getMessage());
        // the child was started before the limit (bash wrote its pid first); it must be gone, not left to run
        ProcessHandle child = ProcessHandle.of(Long.parseLong(Files.readString(pid).trim())).orElse(null);
        if (child != null) child.onExit().get(30, TimeUnit.SECONDS);
        assertFalse(child != null && child.isAlive());
    }

    @Test
    void exec_fileAsStdin_isTheCommandsInput() throws Exception {
        Path in = Files.writeString(tmp.resolve("in"), "one\ntwo\n");
        assertEquals("2\n", Shell.exec(new ProcessBuilder("wc", "-l"), in, Shell.TIMEOUT).stdout());
    }

    @Test
    void attempt_nonZeroExit_returnsCodeAndMergedOutput() throws Exception {
        Shell.Result r = Shell.attempt(List.of("bash", "-c", "echo out; echo err >&2; exit 3"));
        assertEquals(3, r.exitCode());
        assertEquals("out\nerr\n", r.output());
    }

    @Test
    void run_nonZeroExit_throwsWithWhatWasPrinted() {
        IOException e = assertThrows(IOException.class, () -> Shell.run(List.of("bash", "-c", "echo why >&2; exit 1")));
        assertTrue(e.getMessage().startsWith("failed (1): [bash, -c,") && e.getMessage().endsWith("\nwhy\n"),
                e.getMessage());
        IOException withEnv = assertThrows(IOException.class, () -> Shell.run(
                List.of("bash", "-c", "echo \"$X\" >&2; echo partial; exit 2"), Map.of("X", "bad"), Shell.TIMEOUT));
        assertEquals("bash -c echo \"$X\" >&2; echo partial; exit 2 failed: bad partial", withEnv.getMessage());
    }

    @Test
    void stdout_keepsStderrOut_andNamesItOnFailure() throws Exception {
        assertEquals("data\n", Shell.stdout(List.of("bash", "-c", "echo warning >&2; echo data")));
        IOException e = assertThrows(IOException.class, () -> Shell.stdout(List.of("bash", "-c", "echo no >&2; exit 4")));
        assertTrue(e.getMessage().endsWith(" exited 4: no\n"), e.getMessage());
    }
}
