package jbtrfs.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Runs commands for the harness; a failure carries what the command printed. */
final class Sh {
    private Sh() {
    }

    static String run(List<String> cmd, Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
        pb.environment().putAll(env);
        Process p = pb.redirectError(ProcessBuilder.Redirect.PIPE).start();
        String out = new String(p.getInputStream().readAllBytes());
        String err = new String(p.getErrorStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed: " + err.trim() + " " + out.trim());
        return out;
    }

    static String sh(String script) throws IOException, InterruptedException {
        return run(List.of("bash", "-euo", "pipefail", "-c", script), Map.of());
    }

    static boolean ok(String script) throws InterruptedException {
        try {
            sh(script);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Drops the page cache so every job starts cold (root only; a no-op otherwise). */
    static void dropCaches() throws IOException, InterruptedException {
        if (Path.of("/proc/sys/vm/drop_caches").toFile().canWrite()) sh("sync; echo 3 > /proc/sys/vm/drop_caches");
    }
}
