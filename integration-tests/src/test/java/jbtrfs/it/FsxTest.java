package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * xfstests' fsx with its default options (mmap reads and writes, copy_range, fallocate, punch hole, zero range,
 * truncates; fsx itself finds that FUSE has no clone or dedupe) on a fresh 2 GiB image mounted read-write through
 * bin/jbtrfs with a commit a second, each commit checked against the extent tree (the pom's
 * -Djbtrfs.verifyCommits); then the unmount exits 0 and btrfs check is clean. fsx comes from -Djbtrfs.fsx, else
 * $JBTRFS_FSX, else /usr/local/lib/jbtrfs-suites/fsx; {@code -Djbtrfs.fsxOps=N} and {@code -Djbtrfs.fsxSeed=S}
 * change the run (CI: 100,000 operations, seed 1). tests/posix/fsx-seeds runs ten seeds.
 */
class FsxTest {
    private static final Path DEFAULT_FSX = Path.of("/usr/local/lib/jbtrfs-suites/fsx");
    /** fsx at its defaults runs for minutes on 2 cores; past an hour it has hung. */
    private static final Duration FSX_LIMIT = Duration.ofHours(1);

    @TempDir
    Path dir;

    @Test
    void fsxDefaults_100000Operations_unmountClean_checkClean() throws Exception {
        Prereq.requireFuse();
        Path fsx = fsx();
        int ops = Integer.getInteger("jbtrfs.fsxOps", 100_000);
        int seed = Integer.getInteger("jbtrfs.fsxSeed", 1);
        Path image = Images.mkfs(dir, null, 2048);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path logs = Files.createDirectory(dir.resolve("fsx"));
        Path out = dir.resolve("fsx.out");
        int rc;
        try (Jbtrfs mount = Jbtrfs.mountReadWrite(image, mnt, "-o", "commit=1")) {
            ProcessBuilder pb = new ProcessBuilder(List.of(fsx.toString(), "-S", Integer.toString(seed), "-N",
                    Integer.toString(ops), "-P", logs.toString(), "fsx.file"))
                    .directory(mnt.toFile()).redirectErrorStream(true).redirectOutput(out.toFile());
            rc = Shell.exec(pb, null, FSX_LIMIT).exitCode();
        }
        String output = Files.readString(out);
        assertTrue(rc == 0 && output.contains("All " + ops + " operations completed A-OK!"),
                "fsx -S " + seed + " -N " + ops + " failed (exit " + rc + "):\n" + head(output, 60));
        // the defaults reach our code through these: fsx must not have turned them off
        for (String off : List.of("mapped writes DISABLED", "copy range, disabling", "fallocate mode 0,",
                "mode FALLOC_FL_KEEP_SIZE,", "mode FALLOC_FL_PUNCH_HOLE", "mode FALLOC_FL_ZERO_RANGE,")) {
            assertTrue(!output.contains(off), "fsx said: " + off + "\n" + head(output, 20));
        }
        BtrfsCheck.assertCleanWithData(image, "btrfs check after fsx -S " + seed + " -N " + ops);
    }

    /** -Djbtrfs.fsx, $JBTRFS_FSX or the default path; skips, saying how to build it, when none is there. */
    private static Path fsx() {
        String given = System.getProperty("jbtrfs.fsx", System.getenv("JBTRFS_FSX"));
        Path fsx = given == null || given.isEmpty() ? DEFAULT_FSX : Path.of(given);
        Prereq.require(Files.isExecutable(fsx), "no fsx at " + fsx + ": build xfstests' ltp/fsx.c as the top of "
                + "tests/posix/run-suites says, then pass -Djbtrfs.fsx=PATH or set JBTRFS_FSX");
        return fsx;
    }

    private static String head(String text, int lines) {
        String[] all = text.split("\n");
        return String.join("\n", Arrays.asList(all).subList(0, Math.min(lines, all.length)));
    }
}
