package jbtrfs.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import jbtrfs.testing.Shell;

/** The harness's commands, through the tests' runner; a failure carries what the command printed. */
final class Sh {
    /** One job or setup step: an untar through fuse2fs takes minutes, a hung mount must not hold the run forever. */
    private static final Duration LIMIT = Duration.ofHours(1);

    private Sh() {
    }

    /** Runs {@code cmd} with {@code env} added; returns its standard output. */
    static String run(List<String> cmd, Map<String, String> env) throws IOException, InterruptedException {
        return Shell.run(cmd, env, LIMIT);
    }

    /** Runs a bash script with -eu -o pipefail; returns its standard output. */
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
