package jbtrfs.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The one process runner of the tests and the bench harness. Both output streams are drained at once, so a command
 * that fills one pipe while we read the other cannot hang; a time limit kills the command and its children; a
 * failure shows what was printed.
 */
public final class Shell {
    /** How long a command may run unless its caller says otherwise. */
    public static final Duration TIMEOUT = Duration.ofMinutes(5);

    private Shell() {
    }

    /** An exit code and what was printed on each stream (all of it on stdout where the streams were merged). */
    public record Result(int exitCode, String stdout, String stderr) {
        /** Standard output, then error output. */
        public String output() { return stdout + stderr; }
    }

    /**
     * Starts {@code pb} and waits for it and for the end of both its output streams, at most {@code timeout};
     * {@code stdin} (a file) is its input, or null for none. Past the limit the command and its children are killed
     * and this throws. A non-zero exit is returned, not thrown.
     */
    public static Result exec(ProcessBuilder pb, Path stdin, Duration timeout) throws IOException, InterruptedException {
        if (stdin != null) pb.redirectInput(stdin.toFile());
        long deadline = System.nanoTime() + timeout.toNanos();
        Process p = pb.start();
        if (stdin == null) p.getOutputStream().close();
        Drain out = Drain.start(p.getInputStream(), "stdout of " + pb.command().get(0));
        Drain err = Drain.start(p.getErrorStream(), "stderr of " + pb.command().get(0));
        try {
            boolean done = p.waitFor(remaining(deadline), TimeUnit.NANOSECONDS)
                    && out.await(remaining(deadline)) && err.await(remaining(deadline));
            if (!done) {
                kill(p);
                throw new IOException("timed out after " + timeout.toSeconds() + " s: " + pb.command());
            }
        } catch (InterruptedException e) {
            kill(p);
            throw e;
        }
        return new Result(p.exitValue(), out.text(), err.text());
    }

    /** Runs {@code cmd}; returns its output (stdout and stderr), or throws with it on a non-zero exit. */
    public static String run(List<String> cmd) throws IOException, InterruptedException {
        return check(new ProcessBuilder(cmd), cmd.toString());
    }

    /**
     * Runs {@code cmd} with {@code env} added to its environment, for at most {@code timeout}; returns its standard
     * output, or throws with both outputs on a non-zero exit.
     */
    public static String run(List<String> cmd, Map<String, String> env, Duration timeout)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        Result r = exec(pb, null, timeout);
        if (r.exitCode() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + r.stderr().trim() + " " + r.stdout().trim());
        }
        return r.stdout();
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
        try {
            Result r = exec(new ProcessBuilder(cmd), stdin, TIMEOUT);
            if (r.exitCode() != 0) throw new IOException(cmd + " exited " + r.exitCode() + ": " + r.stderr());
            return r.stdout();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + cmd, e);
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
        return check(pb, script);
    }

    /** Runs {@code cmd} and returns its exit code and output (merged into stdout) without failing. */
    public static Result attempt(List<String> cmd) throws IOException, InterruptedException {
        return exec(new ProcessBuilder(cmd).redirectErrorStream(true), null, TIMEOUT);
    }

    private static String check(ProcessBuilder pb, String what) throws IOException, InterruptedException {
        Result r = exec(pb.redirectErrorStream(true), null, TIMEOUT);
        if (r.exitCode() != 0) throw new IOException("failed (" + r.exitCode() + "): " + what + "\n" + r.stdout());
        return r.stdout();
    }

    private static long remaining(long deadline) {
        return Math.max(0, deadline - System.nanoTime());
    }

    /** Kills the command and what it started (children first: once the parent is gone they are no longer its). */
    private static void kill(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** Reads one stream to its end on a thread of its own. */
    private static final class Drain extends Thread {
        private final InputStream in;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private IOException failure;

        private Drain(InputStream in, String name) {
            super(name);
            this.in = in;
            setDaemon(true);
        }

        static Drain start(InputStream in, String name) {
            Drain d = new Drain(in, name);
            d.start();
            return d;
        }

        @Override
        public void run() {
            try (in) {
                in.transferTo(bytes);
            } catch (IOException e) {
                failure = e;
            }
        }

        /** Waits up to {@code nanos} for the end of the stream; false if it has not come. */
        boolean await(long nanos) throws InterruptedException {
            TimeUnit.NANOSECONDS.timedJoin(this, Math.max(1, nanos));
            return !isAlive();
        }

        /** What was read, once {@link #await} said the stream ended. */
        String text() {
            if (failure != null) throw new UncheckedIOException("reading " + getName(), failure);
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }
}
