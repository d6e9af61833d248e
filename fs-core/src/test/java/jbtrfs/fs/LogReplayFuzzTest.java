package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.FsException;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.CrashImages;
import jbtrfs.testing.FsyncScripts;
import jbtrfs.testing.TreeListing;

/**
 * Random fsync scripts ({@link FsyncScripts}) run by the kernel on a loop mount with commit=300, the image copied
 * while mounted: our read-write replay must show what the kernel's replay of a copy shows (every path, attribute,
 * byte and xattr), btrfs check must be clean after it and log_root 0. CI runs {@link #CI_SEEDS} seeds (about a
 * minute); {@code -Djbtrfs.replayfuzz=N} runs N from {@code -Djbtrfs.replayfuzz.first} (default 1), e.g. to
 * reproduce a failing seed or for a long campaign. Needs root, loop devices, btrfs and xfs_io (skips saying why).
 */
class LogReplayFuzzTest {
    static final int CI_SEEDS = 30;
    private static final int OPS = 40;
    private static final Pattern TIME = Pattern.compile("\\b(mtime|ctime)=(\\d+)");

    @TempDir
    Path dir;

    @Test
    void randomFsyncScripts_ourReplayEqualsTheKernels() throws Exception {
        CrashImages.require();
        int seeds = Integer.getInteger("jbtrfs.replayfuzz", CI_SEEDS);
        long first = Long.getLong("jbtrfs.replayfuzz.first", 1);
        int withLog = 0;
        for (long seed = first; seed < first + seeds; seed++) {
            if (replayOne(seed)) withLog++;
        }
        System.out.println("replay fuzz: " + seeds + " seeds from " + first + ", " + withLog + " left a log");
        // the kernel now and then commits instead of logging; most seeds leave a log
        assertTrue(withLog * 2 >= seeds, withLog + " of " + seeds + " seeds left a log");
    }

    /** Runs one seed's script and compares the replays; returns whether the kernel's image had a log. */
    private boolean replayOne(long seed) throws Exception {
        String script = FsyncScripts.generate(seed, OPS);
        String what = "seed " + seed + " (-Djbtrfs.replayfuzz.first=" + seed + " -Djbtrfs.replayfuzz=1), script:\n"
                + script;
        Path work = Files.createDirectories(dir.resolve("seed-" + seed));
        Path crash = CrashImages.kernelCopiedWhileMounted(work, 160, script);
        Instant now = Instant.now();
        long copied = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        boolean log = CrashImages.logRoot(crash) != 0;
        Map<String, String> kernel = replayStamped(CrashImages.kernelReplayed(crash, work), copied);
        Map<String, String> ours = null;
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            ours = replayStamped(TreeListing.ofOperations(fs.operations()), copied);
        } catch (FsException e) {
            fail("our replay failed: " + e.getMessage() + "; " + what);
        }
        assertEquals(List.of(), TreeListing.differences(kernel, ours, 10), what);
        BtrfsCheck.assertCleanWithData(crash, what);
        assertEquals(0, CrashImages.logRoot(crash), "log_root after our replay, " + what);
        Files.delete(crash);
        return log;
    }

    /**
     * The listing with each mtime and ctime the replay itself set (later than the copy: both replays stamp the
     * inodes whose names they remove with their own clock) written as "replay", so that the two replays compare.
     */
    private static Map<String, String> replayStamped(Map<String, String> listing, long copiedNanos) {
        Map<String, String> out = new TreeMap<>();
        listing.forEach((path, line) -> out.put(path, TIME.matcher(line).replaceAll(m ->
                Long.parseLong(m.group(2)) >= copiedNanos ? m.group(1) + "=replay" : m.group())));
        return out;
    }
}
