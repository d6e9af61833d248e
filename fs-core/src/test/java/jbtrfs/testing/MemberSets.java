package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Multi-device filesystems the kernel wrote: mkfs.btrfs over several sparse image files, each attached to a loop
 * device, mounted with device= for the others; forgotten by the kernel's device list and detached afterwards.
 */
public final class MemberSets {
    private MemberSets() {
    }

    /**
     * A varied tree over every member: files of several sizes (some spanning many stripes), compressible text that
     * zstd compresses, a reflink, a subvolume and its snapshot.
     */
    public static final String VARIED_TREE = """
            set +o pipefail
            head -c 3000000 /dev/urandom > random.bin
            head -c 70000 /dev/urandom > odd.bin
            seq 1 300000 > numbers.txt
            yes abcdefgh | head -c 5000 > small.txt
            printf 'inline %.0s' $(seq 1 10) > tiny.txt
            cp --reflink=always random.bin clone.bin
            dd if=/dev/urandom of=clone.bin bs=4096 seek=100 count=5 conv=notrunc 2>/dev/null
            btrfs -q subvolume create sub
            mkdir -p sub/dir && head -c 200000 /dev/urandom > sub/dir/file && seq 1 1000 > sub/dir/list
            btrfs -q subvolume snapshot sub snap
            echo changed > sub/dir/list
            sync
            """;

    /** {@code count} sparse files of {@code sizeMiB}, made one filesystem by mkfs.btrfs with {@code options}. */
    public static List<Path> mkfs(Path dir, int count, int sizeMiB, String... options)
            throws IOException, InterruptedException {
        Images.requireMkfs();
        List<Path> files = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            Path f = dir.resolve("member-" + System.nanoTime() + "-" + i + ".img");
            try (var raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength((long) sizeMiB << 20);
            }
            files.add(f);
        }
        List<String> cmd = new ArrayList<>(List.of("mkfs.btrfs", "-q", "-f"));
        cmd.addAll(List.of(options));
        for (Path f : files) cmd.add(f.toString());
        Shell.run(cmd);
        return files;
    }

    /** What runs while the kernel has the set mounted. */
    public interface Body<T> {
        T run(Path mnt) throws Exception;
    }

    /**
     * Runs {@code body} while the kernel has the set of {@code files} mounted at a new directory under {@code work}
     * (with ",{@code options}" when not empty), then unmounts, forgets and detaches every member.
     */
    public static <T> T withKernelMount(List<Path> files, Path work, String options, Body<T> body) throws Exception {
        Images.requireKernelBtrfs();
        List<String> loops = new ArrayList<>();
        Path mnt = Files.createTempDirectory(work, "kernel-set");
        try {
            for (Path f : files) loops.add(Shell.run(List.of("losetup", "-f", "--show", f.toString())).strip());
            StringBuilder opts = new StringBuilder();
            for (String l : loops.subList(1, loops.size())) opts.append(opts.length() == 0 ? "" : ",").append("device=").append(l);
            if (!options.isEmpty()) opts.append(opts.length() == 0 ? "" : ",").append(options);
            Shell.run(List.of("mount", "-t", "btrfs", "-o", opts.toString(), loops.get(0), mnt.toString()));
            try {
                return body.run(mnt);
            } finally {
                Shell.run(List.of("umount", mnt.toString()));
            }
        } finally {
            for (String l : loops) {
                // the kernel keeps scanned devices listed by path; a detached loop device must leave that list
                Shell.attempt(List.of("btrfs", "device", "scan", "--forget", l));
                Shell.attempt(List.of("losetup", "-d", l));
            }
            Files.deleteIfExists(mnt);
        }
    }

    /**
     * {@code btrfs check --readonly} of the set: every member attached to a loop device and scanned, so that the
     * check (which opens one member) finds the others; its exit code and output.
     */
    public static Shell.Result check(List<Path> files) throws Exception {
        Prereq.requireBinary("btrfs", "btrfs-progs");
        return onScannedLoops(files, loops -> Shell.attempt(List.of("btrfs", "check", "--readonly", loops.get(0))));
    }

    /** What runs while the members are attached to loop devices and scanned. */
    private interface LoopBody<T> {
        T run(List<String> loops) throws Exception;
    }

    /**
     * Runs {@code body} with every member of {@code files} attached to a loop device (in that order) and scanned, so
     * that btrfs-progs opening one finds the others; forgets and detaches them afterwards.
     */
    private static <T> T onScannedLoops(List<Path> files, LoopBody<T> body) throws Exception {
        Images.requireKernelBtrfs();
        List<String> loops = new ArrayList<>();
        try {
            for (Path f : files) loops.add(Shell.run(List.of("losetup", "-f", "--show", f.toString())).strip());
            List<String> scan = new ArrayList<>(List.of("btrfs", "device", "scan"));
            scan.addAll(loops);
            Shell.run(scan);
            return body.run(loops);
        } finally {
            for (String l : loops) {
                Shell.attempt(List.of("btrfs", "device", "scan", "--forget", l));
                Shell.attempt(List.of("losetup", "-d", l));
            }
        }
    }

    /** Where one copy of a logical address lies: the member (its index in the list given) and the offset on it. */
    public record Copy(int member, long physical) {
    }

    /**
     * Every copy of {@code logical} as btrfs-progs maps it (btrfs-map-logical over the members on loop devices), in
     * mirror order (copy 1 first).
     */
    public static List<Copy> copiesOf(List<Path> files, long logical) throws Exception {
        Prereq.requireBinary("btrfs-map-logical", "btrfs-progs");
        return onScannedLoops(files, loops -> {
            String out = Shell.run(List.of("btrfs-map-logical", "-l", Long.toString(logical), loops.get(0)));
            List<Copy> copies = new ArrayList<>();
            Matcher m = Pattern.compile("(?m)^mirror (\\d+) logical \\d+ physical (\\d+) device (\\S+)$").matcher(out);
            while (m.find()) copies.add(new Copy(loops.indexOf(m.group(3)), Long.parseLong(m.group(2))));
            if (copies.isEmpty() || copies.stream().anyMatch(c -> c.member() < 0)) {
                throw new IllegalStateException("btrfs-map-logical of " + logical + " said: " + out);
            }
            return copies;
        });
    }

    /** A set the kernel wrote {@link #VARIED_TREE} into (compress=zstd), with its listing from a read-only mount. */
    public static Map<String, String> kernelWritten(List<Path> files, Path work) throws Exception {
        withKernelMount(files, work, "compress=zstd", mnt -> Shell.sh(VARIED_TREE, mnt));
        return withKernelMount(files, work, "ro", TreeListing::ofMount);
    }

    /** Copies every member (sparse) into {@code dir}, for a test that damages or drops one. */
    public static List<Path> copy(List<Path> files, Path dir) throws IOException, InterruptedException {
        List<Path> out = new ArrayList<>();
        for (Path f : files) {
            Path to = dir.resolve("copy-" + System.nanoTime() + "-" + f.getFileName());
            Shell.run(List.of("cp", "--sparse=always", f.toString(), to.toString()));
            out.add(to);
        }
        return out;
    }

    /**
     * Zeroes a member from 1 MiB on, but for its superblock copy at 64 MiB: every chunk stripe on it reads as zeros
     * while the member is still recognised as one.
     */
    public static void zeroContents(Path member) throws IOException, InterruptedException {
        long superAt = 64L << 20;
        long size = Files.size(member);
        Shell.run(List.of("fallocate", "-p", "-o", Long.toString(1L << 20), "-l", Long.toString(superAt - (1L << 20)),
                member.toString()));
        Shell.run(List.of("fallocate", "-p", "-o", Long.toString(superAt + 4096), "-l",
                Long.toString(size - superAt - 4096), member.toString()));
    }
}
