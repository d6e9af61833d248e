package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.FsException;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.testing.FuzzBase;
import jbtrfs.testing.FuzzImages;
import jbtrfs.testing.ImageMutator;
import jbtrfs.testing.ImageWalk;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * Structured fuzzing: images of every mkfs variant, with files, directories, xattrs, inline, regular and
 * compressed extents, damaged one field at a time with checksums sealed again ({@link ImageMutator}), then opened
 * in-process read-only (walk, stat, read, xattrs) and, on a fresh copy, read-write (walk, create and write a file,
 * remove another, close: a commit). Judged: nothing but an {@link FsException} escapes, and none that merely
 * wraps an unchecked exception ("internal error"); a refusal at open is one line; no image takes over
 * {@value #TIMEOUT_S} s; a write that close() accepted is there after a reopen; and {@code btrfs check --readonly}
 * is not worse after our commit (worse: clean before, exit 0 and no ERROR line, and not so after).
 *
 * <p>Image {@code N} is variant {@code N mod 11} damaged with seed {@code N}: 300 in CI ({@code
 * -Djbtrfs.fuzz.images=10000} runs more, {@code -Djbtrfs.fuzz.from=N} starts at image N, {@code
 * -Djbtrfs.fuzz.variant=NAME} keeps one variant, {@code -Djbtrfs.fuzz.verbose=true} prints every image's damage);
 * a failure names variant, seed and the damage, which
 * {@code -Djbtrfs.fuzz.from=SEED -Djbtrfs.fuzz.images=1} replays.
 */
class ImageFuzzTest {
    private static final int TIMEOUT_S = 90;
    private static final int CHECK_TIMEOUT_S = 20;
    /** -Djbtrfs.fuzz.verbose=true: a line for every image, before the log lines of the next. */
    private static final boolean VERBOSE = Boolean.getBoolean("jbtrfs.fuzz.verbose");
    private static final String NEW_FILE = "fuzz-written";

    @TempDir
    static Path dir;

    private static final List<FuzzBase> BASES = new ArrayList<>();
    private static final Map<FuzzBase, ImageMutator> MUTATORS = new HashMap<>();

    @BeforeAll
    static void makeBaseImages() throws Exception {
        Images.requireMkfs();
        for (FuzzBase base : FuzzImages.bases(dir, name -> true)) {
            BASES.add(base);
            MUTATORS.put(base, new ImageMutator(base));
        }
    }

    @Test
    void damagedImages_areRefusedOrServedWithTypedErrors() throws Exception {
        int images = Integer.getInteger("jbtrfs.fuzz.images", 300);
        int from = Integer.getInteger("jbtrfs.fuzz.from", 0);
        String only = System.getProperty("jbtrfs.fuzz.variant");
        List<String> failures = new ArrayList<>();
        Tally tally = new Tally();
        long t0 = System.nanoTime();
        ExecutorService pool = newPool();
        for (int seed = from; seed < from + images; seed++) {
            FuzzBase base = only != null ? BASES.stream().filter(b -> b.variant().equals(only)).findFirst()
                    .orElseThrow() : BASES.get(seed % BASES.size());
            long s = seed;
            String[] mutation = {"(not yet mutated)"};
            Future<List<String>> f = pool.submit(() -> fuzzOne(base, s, mutation, tally));
            List<String> problems;
            try {
                problems = f.get(TIMEOUT_S, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                Thread stuck = WORKER.get();
                StringBuilder where = new StringBuilder();
                for (StackTraceElement el : stuck == null ? new StackTraceElement[0] : stuck.getStackTrace()) {
                    if (where.length() < 2000) where.append("\n      at ").append(el);
                }
                f.cancel(true);
                pool.shutdownNow();
                pool = newPool();
                problems = List.of("hung: no answer in " + TIMEOUT_S + " s, at" + where);
            } catch (ExecutionException e) {
                problems = List.of("test harness: " + stack(e.getCause()));
            }
            if (VERBOSE) System.out.println("FUZZ seed " + seed + " " + base.variant() + " [" + mutation[0] + "]");
            for (String p : problems) {
                String line = "variant " + base.variant() + " seed " + seed + " [" + mutation[0] + "]: " + p;
                System.out.println("FUZZ FAILURE " + line);
                failures.add(line);
            }
        }
        pool.shutdownNow();
        System.out.printf("fuzz: %d images in %.1f s: %s%n", images, (System.nanoTime() - t0) / 1e9, tally);
        for (FuzzBase b : BASES) System.out.println("fuzz base " + b.variant() + ": " + b.layout());
        assertTrue(failures.isEmpty(), failures.size() + " failures:\n" + String.join("\n", failures));
    }

    /** Counts of what happened, for the summary line. */
    private static final class Tally {
        final AtomicInteger refusedRo = new AtomicInteger();
        final AtomicInteger walkedRo = new AtomicInteger();
        final AtomicInteger refusedRw = new AtomicInteger();
        final AtomicInteger committed = new AtomicInteger();
        final AtomicInteger changeRefused = new AtomicInteger();
        final AtomicInteger closeFailed = new AtomicInteger();
        final AtomicInteger checked = new AtomicInteger();

        @Override
        public String toString() {
            return "read-only: " + refusedRo + " refused, " + walkedRo + " walked; read-write: " + refusedRw
                    + " refused, " + changeRefused + " changes refused, " + closeFailed + " commits failed, "
                    + committed + " committed (" + checked + " checked with btrfs check)";
        }
    }

    /** The pool's thread, whose stack a hang report shows. */
    private static final AtomicReference<Thread> WORKER =
            new AtomicReference<>();

    private static ExecutorService newPool() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-image");
            t.setDaemon(true);
            WORKER.set(t);
            return t;
        });
    }

    /** One image: read-only, then read-write on a fresh copy; returns the problems found (empty: fine). */
    private static List<String> fuzzOne(FuzzBase base, long seed, String[] mutation, Tally tally) throws Exception {
        SparseBytes damaged = base.copy();
        mutation[0] = MUTATORS.get(base).mutate(damaged, seed);
        List<String> problems = new ArrayList<>();
        readOnly(damaged, seed, problems, tally);
        readWrite(damaged, base, seed, problems, tally);
        return problems;
    }

    private static void readOnly(SparseBytes damaged, long seed, List<String> problems, Tally tally) {
        MemoryBlockDevice dev = device(damaged, seed);
        try (Filesystem fs = open(dev, MountOptions.readOnlyDefaults(), problems)) {
            if (fs == null) {
                tally.refusedRo.incrementAndGet();
                return;
            }
            tally.walkedRo.incrementAndGet();
            judge("read-only walk", () -> ImageWalk.walk(fs.operations()).errors().forEach(
                    e -> judgeMessage("read-only walk", e, problems)), problems);
        } catch (Throwable t) {
            problems.add("read-only close: " + stack(t));
        }
    }

    private static void readWrite(SparseBytes damaged, FuzzBase base, long seed, List<String> problems, Tally tally)
            throws Exception {
        MemoryBlockDevice dev = device(damaged, seed);
        Filesystem fs = open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0), problems);
        if (fs == null) {
            tally.refusedRw.incrementAndGet();
            return;
        }
        byte[] data = new byte[10_000];
        new Random(seed).nextBytes(data);
        boolean[] wrote = {false};
        String[] removed = {null};
        judge("read-write walk and change", () -> {
            FsOperations ops = fs.operations();
            ImageWalk.walk(ops).errors().forEach(e -> judgeMessage("read-write walk", e, problems));
            try {
                InodeId f = ops.mknod(ops.root(), NEW_FILE, Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(data));
                wrote[0] = true;
                for (DirEntry e : ops.readdir(ops.root(), 0, 64)) {
                    if (e.type() == 8 && !e.name().equals(NEW_FILE)) {
                        ops.unlink(ops.root(), e.name());
                        removed[0] = e.name();
                        break;
                    }
                }
            } catch (FsException e) {
                tally.changeRefused.incrementAndGet();
                judgeMessage("change", e.getMessage(), problems);
                if (hasUnchecked(e)) problems.add("change: an unchecked exception inside: " + stack(e));
            }
        }, problems);
        try {
            fs.close();
        } catch (FsException e) {
            tally.closeFailed.incrementAndGet();
            if (hasUnchecked(e)) problems.add("close (commit): an unchecked exception inside: " + stack(e));
            return;
        } catch (Throwable t) {
            problems.add("close (commit): " + stack(t));
            return;
        }
        if (!wrote[0]) return;
        tally.committed.incrementAndGet();
        Path after = dir.resolve("after-" + seed + ".img");
        Path before = dir.resolve("before-" + seed + ".img");
        try {
            dev.powerCutTo(after, seed); // after a clean close nothing is volatile: this is what the medium holds
            FuzzImages.checkWritten(after, NEW_FILE, data, removed[0], problems);
            tally.checked.incrementAndGet();
            if (!checkClean(after)) {
                damaged.writeTo(before);
                if (checkClean(before)) problems.add("btrfs check was clean before our commit and is not after");
            }
        } finally {
            Files.deleteIfExists(after);
            Files.deleteIfExists(before);
        }
    }

    /**
     * btrfs check --readonly: exit 0 and no ERROR line. A crash of check, or a check still running after
     * {@value #CHECK_TIMEOUT_S} s (btrfs-progs loops on some damage), counts as not clean.
     */
    private static boolean checkClean(Path image) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "check", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder("btrfs", "check", "--readonly", image.toString())
                    .redirectErrorStream(true).redirectOutput(out.toFile());
            Shell.Result r;
            try {
                r = Shell.exec(pb, null, Duration.ofSeconds(CHECK_TIMEOUT_S));
            } catch (IOException e) {
                if (e.getMessage().startsWith("timed out")) return false; // Shell killed it
                throw e;
            }
            return r.exitCode() == 0 && !Files.readString(out).contains("ERROR");
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static MemoryBlockDevice device(SparseBytes image, long seed) {
        return MemoryBlockDevice.create(image, 64, FaultPlan.none(), seed, new SimpleMeterRegistry());
    }

    /** Opens, or returns null when refused with an FsException (checked: one line, nothing unchecked inside). */
    private static Filesystem open(MemoryBlockDevice dev, MountOptions options, List<String> problems) {
        String what = options.readOnly() ? "read-only open" : "read-write open";
        try {
            return Filesystem.open(dev, options);
        } catch (FsException e) {
            if (e.getMessage() == null || e.getMessage().contains("\n")) {
                problems.add(what + ": refusal is not one line: " + e.getMessage());
            }
            judgeMessage(what, e.getMessage(), problems);
            if (hasUnchecked(e)) problems.add(what + ": an unchecked exception inside: " + stack(e));
        } catch (Throwable t) {
            problems.add(what + ": " + stack(t));
        }
        try {
            dev.close();
        } catch (IOException e) {
            problems.add(what + ": closing the device after a refusal: " + e);
        }
        return null;
    }

    private interface Step {
        void run() throws Exception;
    }

    /** Runs a step; anything but an FsException escaping it is a problem. */
    private static void judge(String what, Step step, List<String> problems) {
        try {
            step.run();
        } catch (FsException e) {
            if (hasUnchecked(e)) problems.add(what + ": an unchecked exception inside: " + stack(e));
        } catch (Throwable t) {
            problems.add(what + ": " + stack(t));
        }
    }

    /** An error a user sees must not be a Java exception's text in disguise. */
    private static void judgeMessage(String what, String message, List<String> problems) {
        if (message != null && message.contains("internal error")) problems.add(what + ": " + message);
    }

    private static boolean hasUnchecked(Throwable t) {
        for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
            if (c instanceof RuntimeException || c instanceof Error) return true;
        }
        return false;
    }

    private static String stack(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString().lines().limit(12).reduce((a, b) -> a + "\n      " + b).orElse(String.valueOf(t));
    }
}
