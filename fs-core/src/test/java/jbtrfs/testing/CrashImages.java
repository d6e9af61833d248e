package jbtrfs.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Images the kernel leaves with a log tree, as a power cut does: a loop mount with commit=300 (no periodic commit
 * gets in the way), a script whose last changes are made durable by fsyncs alone, and a copy of the image file taken
 * while it is still mounted. The copy has log_root != 0; the kernel replays it at its next mount.
 */
public final class CrashImages {
    /** Tries at making a real crash image before giving up. */
    private static final int ATTEMPTS = 4;
    private static final Pattern GENERATION = Pattern.compile("(?m)^generation\\s+(\\d+)$");
    private static final Pattern LOG_ROOT = Pattern.compile("(?m)^log_root\\s+(\\d+)$");
    private static final Pattern LOG_TREE_BYTENR = Pattern.compile("(?m)^\\s+generation \\d+ root_dirid \\d+ bytenr (\\d+)");

    /**
     * The issue's scenarios: a committed base ({@code sync}), then changes that only fsyncs make durable. Each was
     * chosen so that the kernel logs it rather than falling back to a full commit (a rename's old directory
     * fsync'd too, or an overwrite of a file of a few hundred KiB, make the kernel commit; then there is no log).
     */
    public static final Map<String, String> SCENARIOS = scenarios();

    /**
     * Scenarios where the kernel commits after the base by its own rules, in every try (many-fdatasyncs: at the
     * first fdatasync and about the 20th): of these only a log and a whole copy are asked.
     */
    private static final Set<String> KERNEL_COMMITS = Set.of("many-fdatasyncs");

    /**
     * Put before a script: a bare {@code sync} (a commit) also writes the generation it committed to $BASE. The
     * changes after the last one must reach the image through the log alone.
     */
    private static final String NOTE_BASE = """
            sync() {
              command sync "$@"
              if [ $# -eq 0 ]; then
                btrfs inspect-internal dump-super "$IMAGE" | sed -n 's/^generation[[:space:]]*//p' > "$BASE"
              fi
            }
            """;

    private CrashImages() {
    }

    private static Map<String, String> scenarios() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("new-files", """
                mkdir d; echo base > d/base; sync
                head -c 100000 /dev/urandom > d/new1; xfs_io -c fsync d/new1
                echo small > d/new2; xfs_io -c fsync d/new2
                mkdir d/sub; head -c 5000 /dev/urandom > d/sub/new3; xfs_io -c fsync d/sub/new3
                """);
        s.put("appends", """
                head -c 100000 /dev/urandom > log.bin; echo line > small.txt; sync
                for i in 1 2 3; do
                  head -c 7000 /dev/urandom >> log.bin; xfs_io -c fsync log.bin
                  echo "line $i" >> small.txt; xfs_io -c fsync small.txt
                done
                """);
        s.put("overwrites", """
                head -c 100000 /dev/urandom > f.bin; sync
                for off in 3 10 17; do dd if=/dev/urandom of=f.bin bs=4096 seek=$off count=2 conv=notrunc status=none; done
                dd if=/dev/urandom of=f.bin bs=1000 seek=77 count=3 conv=notrunc status=none
                xfs_io -c fsync f.bin
                """);
        s.put("renames-across-directories", """
                mkdir a b; echo one > a/f; echo two > a/h; head -c 50000 /dev/urandom > a/big; sync
                mv a/f b/g; mv a/big b/big2; xfs_io -c fsync b
                """);
        s.put("unlinks-directory-fsync", """
                mkdir d; for i in 1 2 3 4 5; do echo $i > d/f$i; done; sync
                rm d/f2 d/f4; xfs_io -c fsync d
                """);
        s.put("hardlinks", """
                mkdir d; echo data > f; sync
                ln f d/l1; ln f l2; xfs_io -c fsync f
                """);
        s.put("truncation", """
                head -c 300000 /dev/urandom > t1; head -c 30000 /dev/urandom > t2; sync
                truncate -s 1000 t1; xfs_io -c fsync t1
                truncate -s 5000000 t2; xfs_io -c fsync t2
                """);
        s.put("xattrs", """
                echo x > f; setfattr -n user.old -v gone f; sync
                setfattr -n user.color -v blue f; setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\\0' a)" f
                setfattr -x user.old f; xfs_io -c fsync f
                """);
        s.put("prealloc-written", """
                fallocate -l 8M p; touch k; fallocate -n -l 1M k; sync
                dd if=/dev/urandom of=p bs=4096 seek=300 count=10 conv=notrunc status=none
                dd if=/dev/urandom of=k bs=4096 seek=3 count=2 conv=notrunc status=none
                xfs_io -c fsync p; xfs_io -c fsync k
                """);
        s.put("new-subvolume", """
                btrfs -q subvolume create s; sync
                mkdir s/d; head -c 200000 /dev/urandom > s/d/f; xfs_io -c fsync s/d/f
                echo top > s/top; xfs_io -c fsync s/top
                """);
        s.put("many-fdatasyncs", """
                head -c 1000000 /dev/urandom > f; sync
                args=(); for i in $(seq 0 99); do args+=(-c "pwrite -q -S $((i % 250)) $((i * 9000)) 4096" -c fdatasync); done
                xfs_io "${args[@]}" f
                """);
        return s;
    }

    /** Skips (printing why) unless the kernel can make these images: root, loop devices, btrfs, xfs_io. */
    public static void require() {
        Images.requireKernelBtrfs();
        Prereq.requireBinary("xfs_io", "apt-get install xfsprogs");
    }

    /** A 256 MiB image the kernel left with a log after {@code scenario} (a name of {@link #SCENARIOS}). */
    public static Path kernelCrashed(Path dir, String scenario) throws Exception {
        String script = SCENARIOS.get(scenario);
        if (script == null) throw new IllegalArgumentException("no crash scenario " + scenario);
        return crashed(dir, 256, new String[0], "", script, !KERNEL_COMMITS.contains(scenario));
    }

    /** As {@link #kernelCrashed(Path, int, String[], String, String)} with mkfs' and the mount's defaults. */
    public static Path kernelCrashed(Path dir, int sizeMiB, String script) throws Exception {
        return kernelCrashed(dir, sizeMiB, new String[0], "", script);
    }

    /**
     * mkfs (with {@code mkfs} options), a loop mount with commit=300 ({@code mountOptions}, each led by a comma),
     * {@code script} run inside it (bash -eu), a sparse copy of the image taken while mounted, unmount. Returns the
     * copy only when it is a real crash image: a log, and no commit since the script's last bare {@code sync}, so
     * every change after it lives in the log alone. Under load the kernel now and then commits at an fsync, or while
     * the copy is read; then a fresh try, and after {@value #ATTEMPTS} an exception naming what each try left.
     */
    public static Path kernelCrashed(Path dir, int sizeMiB, String[] mkfs, String mountOptions, String script)
            throws Exception {
        return crashed(dir, sizeMiB, mkfs, mountOptions, script, true);
    }

    /** As above; a commit after the base is taken as it comes unless {@code baseHolds}. */
    private static Path crashed(Path dir, int sizeMiB, String[] mkfs, String mountOptions, String script,
            boolean baseHolds) throws Exception {
        require();
        List<String> faults = new ArrayList<>();
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            Copy copy = attempt(dir, sizeMiB, mkfs, mountOptions, script);
            String fault = copy.torn() ? copy.tornFault()
                    : baseHolds && copy.afterCopy() != copy.base()
                            ? "the kernel committed after the base (generation " + copy.base() + " -> "
                                    + copy.afterCopy() + ")"
                            : logRoot(copy.image()) == 0 ? "no log (log_root 0)" : null;
            if (fault == null) return copy.image();
            faults.add(fault);
            Files.delete(copy.image());
        }
        throw new IOException("no crash image in " + ATTEMPTS + " tries: " + String.join("; ", faults));
    }

    /**
     * As {@link #kernelCrashed(Path, int, String)} but taking what the script leaves: the copy has no log (log_root
     * 0) when the kernel committed instead, which a caller comparing replays takes as it comes. Only a copy a commit
     * ran through is tried again: it is not an image any power cut leaves.
     */
    public static Path kernelCopiedWhileMounted(Path dir, int sizeMiB, String script) throws Exception {
        require();
        List<String> faults = new ArrayList<>();
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            Copy copy = attempt(dir, sizeMiB, new String[0], "", script);
            if (!copy.torn()) return copy.image();
            faults.add(copy.tornFault());
            Files.delete(copy.image());
        }
        throw new IOException("no whole copy in " + ATTEMPTS + " tries: " + String.join("; ", faults));
    }

    /**
     * A copy made while mounted, with the generations the image had committed: at the script's last bare
     * {@code sync} (or at mount without one), and just before and just after the copy was read.
     */
    private record Copy(Path image, long base, long beforeCopy, long afterCopy) {
        /** A commit ran while cp read the image: its blocks may mix two transactions. */
        boolean torn() {
            return beforeCopy != afterCopy;
        }

        String tornFault() {
            return "a commit ran during the copy (generation " + beforeCopy + " -> " + afterCopy + ")";
        }
    }

    /** One image made by {@code script}, copied while mounted: with a log, unless the kernel committed instead. */
    private static Copy attempt(Path dir, int sizeMiB, String[] mkfs, String mountOptions, String script)
            throws Exception {
        Path image = Images.mkfs(dir, null, sizeMiB, mkfs);
        Path crash = dir.resolve("crash-" + System.nanoTime() + ".img");
        Path base = dir.resolve("base-" + System.nanoTime());
        Path mnt = Files.createTempDirectory(dir, "kernel-crash");
        Copy copy = Images.withKernelMount(image, mnt, "commit=300" + mountOptions, () -> {
            Files.writeString(base, Long.toString(generation(image)));
            Shell.sh("IMAGE='" + image + "' BASE='" + base + "'\n" + NOTE_BASE + script, mnt);
            long before = generation(image);
            // what a power cut leaves: the image as the fsyncs made it, not as the unmount's commit would
            Shell.run(List.of("cp", "--sparse=always", image.toString(), crash.toString()));
            return new Copy(crash, Long.parseLong(Files.readString(base).strip()), before, generation(image));
        });
        Files.delete(base);
        Files.delete(mnt);
        Files.delete(image);
        return copy;
    }

    /** The superblock's generation (the last commit on disk), as dump-super says. */
    private static long generation(Path image) throws IOException, InterruptedException {
        return superField(image, GENERATION);
    }

    /** The superblock's log_root, as btrfs inspect-internal dump-super says. */
    public static long logRoot(Path image) throws IOException, InterruptedException {
        return superField(image, LOG_ROOT);
    }

    private static long superField(Path image, Pattern field) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-super", image.toString()));
        Matcher m = field.matcher(dump);
        if (!m.find()) throw new IOException("dump-super shows no " + field + ": " + dump);
        return Long.parseLong(m.group(1));
    }

    /** The root block of the first subvolume's log tree, from the log root tree's root item (dump-tree). */
    public static long firstLogTree(Path image) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "TREE_LOG",
                image.toString()));
        Matcher m = LOG_TREE_BYTENR.matcher(dump);
        if (!m.find()) throw new IOException("the log root tree names no log tree: " + dump);
        return Long.parseLong(m.group(1));
    }

    /** Flips a byte inside every copy of the first log tree's root block; returns the block's logical address. */
    public static long damageFirstLogTree(Path image) throws IOException, InterruptedException {
        long logTree = firstLogTree(image);
        for (long copy : ImageDamage.physicalCopies(image, logTree)) ImageDamage.flipByte(image, copy + 1000);
        return logTree;
    }

    /** What the kernel shows once it has replayed the log: a copy of {@code crash} mounted (and replayed) by it. */
    public static Map<String, String> kernelReplayed(Path crash, Path work) throws Exception {
        Path copy = work.resolve("kernel-replay-" + System.nanoTime() + ".img");
        Shell.run(List.of("cp", "--sparse=always", crash.toString(), copy.toString()));
        Path mnt = Files.createTempDirectory(work, "kernel-replay");
        try {
            // read-write: "-o loop,ro" makes a read-only loop device, where the kernel refuses to replay
            return Images.withKernelMount(copy, mnt, "", () -> TreeListing.ofMount(mnt));
        } finally {
            Files.delete(mnt);
            Files.delete(copy);
        }
    }

    /** What the kernel shows of {@code crash} without replaying (ro,rescue=nologreplay: nothing is written). */
    public static Map<String, String> kernelLastCommit(Path crash, Path work) throws Exception {
        return TreeListing.ofKernelMount(crash, work, ",rescue=nologreplay");
    }
}
