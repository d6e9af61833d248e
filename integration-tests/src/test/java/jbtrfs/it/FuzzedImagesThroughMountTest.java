package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.SparseBytes;
import jbtrfs.testing.FuzzBase;
import jbtrfs.testing.FuzzImages;
import jbtrfs.testing.ImageMutator;
import jbtrfs.testing.Images;
import jbtrfs.testing.MkfsVariants;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * A fixed sample of fs-core's ImageFuzzTest images (same bases, same seeds, same damage) through real mounts of
 * {@code bin/jbtrfs}, as issue 16 asks: mounted read-only, then read-write on a fresh copy, each with a walk (find,
 * stat, cat of every file, getfattr) and, read-write, a file created and written and another removed. Judged: no
 * step past {@value #STEP_S} s (a hang names the seed); a refused mount exits non-zero with one line that is no
 * Java exception text; every error of the walk is an errno of damage or absence; the mount still answers
 * afterwards (the daemon lives); no unchecked exception in the daemon's log; a read-only unmount exits 0; a
 * read-write unmount exits 0 with the changes there on reopening, or non-zero with the one line saying the
 * changes were not written; and {@code btrfs check --readonly}, clean before, is clean after.
 *
 * <p>The seeds (7 variants) cover the outcomes the in-process fuzzer sees: refused at open (12, 13), refused
 * read-write only (0, 19), walked with EIO (2, 5, 16, 17, 22; 19's statfs too), changes committed (2, 8, 16, 17,
 * 22), the commit failed and the unmount said so (1, 5, 6). {@code -Djbtrfs.fuzz.seeds=A-B} runs a range instead,
 * printing a line per image.
 */
class FuzzedImagesThroughMountTest {
    private static final int[] SEEDS = {0, 1, 2, 5, 6, 8, 12, 13, 16, 17, 19, 22};
    private static final int STEP_S = 30;
    private static final String NEW_FILE = "fuzz-written";
    private static final String CONTENT = "written through the mount\n";
    /** What a walk may meet on a damaged image: damage, absence, or nothing to read. */
    private static final Pattern ERRNO = Pattern.compile(".*: (Input/output error|Structure needs cleaning"
            + "|No such file or directory|No data available)$");
    private static final Pattern LOST = Pattern.compile("jbtrfs: unmounted, but changes since the last commit "
            + "\\(transaction \\d+\\) were not written: .+");
    private static final Pattern UNCHECKED = Pattern.compile("unexpected error|internal error|"
            + "java\\.\\w+\\.\\w*(?:IllegalArgument|IndexOutOfBounds|NullPointer|Arithmetic|IllegalState"
            + "|BufferUnderflow|BufferOverflow|NegativeArraySize|ClassCast)Exception");

    @TempDir
    Path dir;

    @Test
    void sampledFuzzImages_areRefusedInOneLineOrServedWithErrnos_noWriteLost() throws Exception {
        Prereq.requireFuse();
        Images.requireMkfs();
        long t0 = System.nanoTime();
        int[] seeds = seeds();
        int n = FuzzImages.variants();
        Set<String> wanted = IntStream.of(seeds).mapToObj(s -> variantName(s % n)).collect(Collectors.toSet());
        List<FuzzBase> bases = FuzzImages.bases(dir, wanted::contains);
        Map<FuzzBase, ImageMutator> mutators = new HashMap<>();
        List<String> failures = new ArrayList<>();
        for (int seed : seeds) {
            FuzzBase base = bases.get(seed % n);
            SparseBytes damaged = base.copy();
            String mutation = mutators.computeIfAbsent(base, FuzzedImagesThroughMountTest::mutator)
                    .mutate(damaged, seed);
            List<String> problems = new ArrayList<>();
            String ro = readOnly(damaged, seed, problems);
            String rw = readWrite(damaged, seed, problems);
            System.out.println("FUZZ-MOUNT seed " + seed + " " + base.variant() + " [" + mutation + "]: read-only "
                    + ro + "; read-write " + rw);
            for (String p : problems) failures.add("seed " + seed + " " + base.variant() + " [" + mutation + "]: " + p);
        }
        System.out.printf("fuzz through mounts: %d images in %.1f s%n", seeds.length, (System.nanoTime() - t0) / 1e9);
        assertTrue(failures.isEmpty(), failures.size() + " failures:\n" + String.join("\n", failures));
    }

    private static int[] seeds() {
        String range = System.getProperty("jbtrfs.fuzz.seeds");
        if (range == null) return SEEDS;
        String[] ab = range.split("-");
        return IntStream.rangeClosed(Integer.parseInt(ab[0]), Integer.parseInt(ab[1])).toArray();
    }

    private static String variantName(int index) {
        return (String) MkfsVariants.arguments().toList().get(index).get()[0];
    }

    private static ImageMutator mutator(FuzzBase base) {
        try {
            return new ImageMutator(base);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Mount read-only, walk, unmount; returns what happened, adds what is wrong to {@code problems}. */
    private String readOnly(SparseBytes damaged, int seed, List<String> problems) throws Exception {
        Path image = dir.resolve("ro-" + seed + ".img");
        damaged.writeTo(image);
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        try {
            Shell.Result mount = timed("mount --read-only", problems, Jbtrfs.command("mount",
                    "--read-only", image.toString(), mnt.toString()).toArray(new String[0]));
            if (mount == null) return "hung at mount";
            if (mount.exitCode() != 0) {
                judgeRefusal("read-only mount", mount, problems);
                judgeLog("read-only mount", mnt, problems);
                return "refused";
            }
            try {
                int errors = walk("read-only", mnt, problems);
                alive("read-only", mnt, problems);
                Shell.Result umount = timed("read-only umount", problems, Jbtrfs.launcher().toString(), "umount",
                        mnt.toString());
                if (umount != null && umount.exitCode() != 0) {
                    problems.add("read-only umount exits " + umount.exitCode() + ": " + umount.output().strip());
                }
                judgeLog("read-only", mnt, problems);
                return "walked with " + errors + " errors";
            } finally {
                Jbtrfs.cleanUp(mnt, mount.output());
            }
        } finally {
            Files.deleteIfExists(image);
        }
    }

    /** Mount read-write on a fresh copy, walk, write and remove, unmount; then the changes or the one line. */
    private String readWrite(SparseBytes damaged, int seed, List<String> problems) throws Exception {
        Path image = dir.resolve("rw-" + seed + ".img");
        damaged.writeTo(image);
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        try {
            Shell.Result mount = timed("mount", problems, Jbtrfs.command("mount", "-o", "commit=0",
                    image.toString(), mnt.toString()).toArray(new String[0]));
            if (mount == null) return "hung at mount";
            if (mount.exitCode() != 0) {
                judgeRefusal("read-write mount", mount, problems);
                judgeLog("read-write mount", mnt, problems);
                return "refused";
            }
            Shell.Result umount;
            boolean wrote;
            String removed;
            int errors;
            try {
                errors = walk("read-write", mnt, problems);
                Shell.Result write = timed("write", problems, "bash", "-c", "printf '"
                        + CONTENT.replace("\n", "\\n") + "' > " + mnt.resolve(NEW_FILE));
                wrote = write != null && write.exitCode() == 0;
                Shell.Result victim = timed("find", problems, "bash", "-c", "find " + mnt
                        + " -maxdepth 1 -type f ! -name " + NEW_FILE + " 2>/dev/null | sort | head -1");
                String name = victim == null ? "" : victim.output().strip();
                Shell.Result rm = name.isEmpty() ? null : timed("rm", problems, "rm", "--", name);
                removed = rm != null && rm.exitCode() == 0 ? Path.of(name).getFileName().toString() : null;
                judgeErrors("change", (write == null ? "" : write.output()) + (rm == null ? "" : rm.output()),
                        problems);
                alive("read-write", mnt, problems);
                umount = timed("umount", problems, Jbtrfs.launcher().toString(), "umount", mnt.toString());
                judgeLog("read-write", mnt, problems);
            } finally {
                Jbtrfs.cleanUp(mnt, mount.output());
            }
            if (umount == null) return "hung at umount";
            String changes = (wrote ? "written" : "write refused") + (removed != null ? ", rm done" : ", no rm");
            if (umount.exitCode() != 0) {
                List<String> lines = umount.output().strip().lines().toList();
                if (lines.size() != 1 || !LOST.matcher(lines.get(0)).matches()) {
                    problems.add("umount exits " + umount.exitCode() + " without the one line: " + umount.output());
                }
                return "walked with " + errors + " errors, " + changes + ", commit failed";
            }
            if (wrote || removed != null) {
                FuzzImages.checkWritten(image, NEW_FILE, wrote ? CONTENT.getBytes(StandardCharsets.UTF_8) : null,
                        removed, problems);
            }
            if (!checkClean(image)) {
                Path before = dir.resolve("before-" + seed + ".img");
                damaged.writeTo(before);
                if (checkClean(before)) problems.add("btrfs check was clean before our commit and is not after");
                Files.delete(before);
            }
            return "walked with " + errors + " errors, " + changes + ", committed";
        } finally {
            Files.deleteIfExists(image);
        }
    }

    /** A refusal: non-zero, one line "jbtrfs: ...", no Java exception text in it. */
    private static void judgeRefusal(String what, Shell.Result r, List<String> problems) {
        List<String> lines = r.output().strip().lines().filter(l -> !l.isBlank()).toList();
        if (lines.size() != 1 || !lines.get(0).startsWith("jbtrfs: ") || lines.get(0).contains("Exception")
                || lines.get(0).contains("at jbtrfs.")) {
            problems.add(what + " refused, but not in one clean line: " + r.output());
        }
    }

    /** find with stat, cat of every file, getfattr of everything; returns how many errors, each judged. */
    private static int walk(String what, Path mnt, List<String> problems) throws Exception {
        String m = mnt.toString();
        Shell.Result r = timed(what + " walk", problems, "bash", "-c", "cd " + m + " && "
                + "find . -xdev -exec stat -c '%n %s %h' {} + >/dev/null; "
                + "find . -xdev -type f -exec cat {} + >/dev/null; "
                + "getfattr -R -h -d -m - . >/dev/null; true");
        if (r == null) return -1;
        return judgeErrors(what + " walk", r.output(), problems);
    }

    private static int judgeErrors(String what, String output, List<String> problems) {
        List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
        for (String l : lines) {
            if (!ERRNO.matcher(l).matches()) problems.add(what + ": not an errno of damage: " + l);
        }
        return lines.size();
    }

    /**
     * The daemon still answers: statfs gives an answer, success or an errno of damage (it reads the block groups,
     * which the damage may have hit), never "Transport endpoint is not connected" of a dead daemon.
     */
    private static void alive(String what, Path mnt, List<String> problems) throws Exception {
        Shell.Result r = timed(what + " statfs", problems, "stat", "-f", mnt.toString());
        if (r != null && r.exitCode() != 0 && !ERRNO.matcher(r.output().strip()).matches()) {
            problems.add(what + ": the mount no longer answers: " + r.output().strip());
        }
    }

    private static void judgeLog(String what, Path mnt, List<String> problems) throws Exception {
        Path log = Jbtrfs.log(mnt);
        if (!Files.exists(log)) return;
        for (String l : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            if (UNCHECKED.matcher(l).find()) problems.add(what + ": the daemon logged: " + l);
        }
    }

    /** Runs {@code cmd} under timeout(1); null (and a problem) when it hangs. */
    private static Shell.Result timed(String what, List<String> problems, String... cmd) throws Exception {
        List<String> full = new ArrayList<>(List.of("timeout", "-k", "5", Integer.toString(STEP_S)));
        full.addAll(List.of(cmd));
        Shell.Result r = Shell.attempt(full);
        if (r.exitCode() == 124 || r.exitCode() == 137) {
            problems.add("hung: " + what + " gave no answer in " + STEP_S + " s: " + r.output().strip());
            return null;
        }
        return r;
    }

    /** btrfs check --readonly: exit 0 and no ERROR line within the step's time. */
    private static boolean checkClean(Path image) throws Exception {
        Shell.Result r = Shell.attempt(List.of("timeout", "-k", "5", Integer.toString(STEP_S), "btrfs", "check",
                "--readonly", image.toString()));
        return r.exitCode() == 0 && !r.output().contains("ERROR");
    }
}
