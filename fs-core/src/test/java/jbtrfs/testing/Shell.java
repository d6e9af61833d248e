package jbtrfs.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs commands for tests: output captured, a time limit, and a failure that shows what was printed. */
public final class Shell {
    private static final long TIMEOUT_S = 300;

    private Shell() {
    }

    /** Runs {@code cmd}; returns its output (stdout and stderr), or throws with it on a non-zero exit. */
    public static String run(List<String> cmd) throws IOException, InterruptedException {
        return run(new ProcessBuilder(cmd), cmd.toString());
    }

    /**
     * Runs {@code cmd}; returns its standard output alone (for parsing: btrfs-progs warns on stderr), or throws with
     * its error output on a non-zero exit. Interruption is an IOException, for callers that only do I/O.
     */
    public static String stdout(List<String> cmd) throws IOException {
        return stdout(cmd, null);
    }

    /** {@link #stdout(List)} with {@code stdin} (a file) as the command's input; null: none. */
    public static String stdout(List<String> cmd, Path stdin) throws IOException {
        Path err = Files.createTempFile("jbtrfs-cmd", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile());
            if (stdin != null) pb.redirectInput(stdin.toFile());
            Process p = pb.start();
            if (stdin == null) p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + cmd);
            }
            if (p.exitValue() != 0) throw new IOException(cmd + " exited " + p.exitValue() + ": " + Files.readString(err));
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + cmd, e);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    /** Runs a bash script with -eu -o pipefail. */
    public static String sh(String script) throws IOException, InterruptedException {
        return sh(script, null);
    }

    /** Runs a bash script with -eu -o pipefail in {@code cwd}. */
    public static String sh(String script, Path cwd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-euo", "pipefail", "-c", script);
        if (cwd != null) pb.directory(cwd.toFile());
        return run(pb, script);
    }

    /** Runs {@code cmd} and returns its exit code and output without failing. */
    public static Result attempt(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + cmd);
        }
        return new Result(p.exitValue(), out);
    }

    /** An exit code and what was printed. */
    public record Result(int exitCode, String output) {
    }

    private static String run(ProcessBuilder pb, String what) throws IOException, InterruptedException {
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + what);
        }
        if (p.exitValue() != 0) throw new IOException("failed (" + p.exitValue() + "): " + what + "\n" + out);
        return out;
    }
}
