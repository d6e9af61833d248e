package jbtrfs.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code bench/run [--quick] [--out DIR] [--work DIR] [--jobs DIR]}: runs the versioned fio job set on the kernel's
 * Btrfs, on jbtrfs (same kind of image) through its native transport and through libfuse 2, and on fuse2fs over
 * ext4 of the same size, caches dropped before each job; writes fio's JSON, summary.md (a table with ratios and one
 * of CPU time and FUSE requests per operation) and relative.png into the results directory.
 */
public final class BenchHarness {
    private BenchHarness() {
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public static void main(String[] args) throws Exception {
        Path repo = Path.of(".").toAbsolutePath().normalize();
        boolean quick = false;
        Path out = null;
        Path work = Path.of("/var/tmp/jbtrfs-bench-harness");
        Path jobsDir = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--out" -> out = Path.of(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                case "--jobs" -> jobsDir = Path.of(args[++i]);
                case "--repo" -> repo = Path.of(args[++i]).toAbsolutePath().normalize();
                default -> {
                    System.err.println("usage: bench/run [--quick] [--out DIR] [--work DIR] [--jobs DIR]");
                    System.exit(2);
                }
            }
        }
        if (jobsDir == null) jobsDir = repo.resolve("bench/jobs/v1");
        if (out == null) {
            out = repo.resolve("results").resolve(LocalDateTime.now(ZoneId.systemDefault()).format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            System.err.println("bench: needs root (loop mounts for the kernel's side, dropping caches)");
            System.exit(2);
        }
        Map<String, String> params = quick
                ? Map.of("SIZE", "64M", "RUNTIME", "2", "NRFILES", "200")
                : Map.of("SIZE", "1G", "RUNTIME", "20", "NRFILES", "5000");
        Files.createDirectories(out);
        Files.createDirectories(work);
        Path mnt = Files.createDirectories(work.resolve("mnt"));

        List<Job> jobs = new ArrayList<>();
        try (Stream<Path> files = Files.list(jobsDir)) {
            files.filter(f -> f.toString().endsWith(".fio")).sorted().forEach(f -> jobs.add(
                    new Job(f.getFileName().toString().replaceAll("^\\d+-|\\.fio$", ""), f)));
        }
        jobs.add(new Job("untar-w", null));
        jobs.add(new Job("rm-rf-w", null));

        Path tarball = work.resolve("src.tar");
        String tree = quick ? "/usr/include/linux" : "/usr/include";
        Sh.sh("tar -C " + Path.of(tree).getParent() + " -cf " + tarball + " " + Path.of(tree).getFileName());
        int tarFiles = Integer.parseInt(Sh.sh("tar -tf " + tarball + " | wc -l").trim());

        String size = quick ? "512M" : "8G";
        Path btrfs = work.resolve("btrfs.img");
        Path ext4 = work.resolve("ext4.img");
        Sh.sh("rm -f " + btrfs + " " + ext4 + "; truncate -s " + size + " " + btrfs + " " + ext4
                + "; mkfs.btrfs -q -f " + btrfs + "; mkfs.ext4 -q -F " + ext4);
        for (Path img : List.of(btrfs, ext4)) {
            // the read jobs' files, laid out by the kernel before any side is measured
            Sh.sh("mount -o loop " + img + " " + mnt + " && cd " + mnt + " && mkdir -p meta"
                    + " && head -c " + params.get("SIZE") + " /dev/urandom > seq.dat"
                    + " && head -c " + params.get("SIZE") + " /dev/urandom > rand.dat"
                    + " && for i in $(seq 0 $((" + params.get("NRFILES") + " - 1))); do head -c 4096 /dev/zero > meta/f.$i; done"
                    + " && cd / && umount " + mnt);
        }
        // each Btrfs side starts from the same populated image: the write jobs fill it, and the second side would
        // otherwise overwrite the first side's files with less space than the first had
        Path ours = work.resolve("jbtrfs.img");
        Path oursLibfuse = work.resolve("jbtrfs-libfuse.img");
        Sh.sh("cp --sparse=always " + btrfs + " " + ours + " && cp --sparse=always " + btrfs + " " + oursLibfuse);
        String launcher = repo.resolve("bin/jbtrfs").toString();
        // both jbtrfs sides serve metrics, whose meters count the FUSE requests answered (a timer's record per request),
        // on a port free when the run starts (one side is mounted at a time): a fixed one clashed with other runs
        int port = freePort();
        List<Target> targets = List.of(
                new Target("kernel", "the kernel's Btrfs (loop mount)", btrfs, "mount -o loop $IMG $MNT", "umount $MNT"),
                new Target("jbtrfs", "jbtrfs, native transport (FUSE)", ours, launcher
                        + " mount -o transport=native,metrics=127.0.0.1:" + port + " $IMG $MNT 2>&1",
                        launcher + " umount $MNT", null, port),
                new Target("libfuse", "jbtrfs, libfuse 2 transport (FUSE)", oursLibfuse, launcher
                        + " mount -o transport=libfuse,metrics=127.0.0.1:" + port + " $IMG $MNT 2>&1",
                        launcher + " umount $MNT", null, port),
                new Target("fuse2fs", "fuse2fs over ext4 (FUSE)", ext4, "fuse2fs $IMG $MNT", "fusermount -u $MNT",
                        "pgrep -n -f 'fuse2fs $IMG'", 0));

        Report report = new Report();
        int total = targets.size() * jobs.size();
        int done = 0;
        for (Target t : targets) {
            long pid = t.mount(mnt);
            try {
                boolean writable = Target.writable(mnt);
                Files.createDirectories(out.resolve(t.name()));
                for (Job j : jobs) {
                    done++;
                    System.err.printf("\r[%d/%d] %-8s %-22s", done, total, t.name(), j.name());
                    if (j.writes() && !writable) {
                        report.put(j, t.name(), null);
                        continue;
                    }
                    Sh.dropCaches();
                    double cpu0 = Target.cpuSeconds(pid);
                    long requests0 = t.fuseRequests();
                    Job.Outcome o = j.run(mnt, params, out.resolve(t.name()).resolve(j.name() + ".json"), tarball,
                            tarFiles);
                    double daemonCpu = pid < 0 ? Double.NaN : Target.cpuSeconds(pid) - cpu0;
                    report.put(j, t.name(), o, daemonCpu, requests0 < 0 ? -1 : t.fuseRequests() - requests0);
                }
            } finally {
                t.umount(mnt);
                Target.awaitExit(pid);
            }
        }
        System.err.println();
        List<String> names = targets.stream().map(Target::name).toList();
        String header = "Job set " + jobsDir.getFileName() + (quick ? " (--quick)" : "") + ", "
                + LocalDateTime.now(ZoneId.systemDefault()).format(DateTimeFormatter.ISO_LOCAL_DATE_TIME) + ", SIZE " + params.get("SIZE")
                + ", RUNTIME " + params.get("RUNTIME") + " s, NRFILES " + params.get("NRFILES") + ", untar of "
                + tree + " (" + tarFiles + " entries); caches dropped before each job. n/a: the mount is read-only.";
        String md = report.markdown(names, header);
        Report.write(out.resolve("summary.md"), md);
        report.chart(names, out.resolve("relative.png"));
        System.out.print(md);
        System.out.println("results in " + out);
    }
}
