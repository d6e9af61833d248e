package jbtrfs.fuse;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import jbtrfs.fs.ScrubProgress;
import jbtrfs.fs.ScrubStatus;
import jbtrfs.fuse.node.BtrfsIoctl;
import jbtrfs.fuse.node.ScrubRequests;

/**
 * {@code jbtrfs scrub start [-B] [-r] MOUNTPOINT}, {@code jbtrfs scrub status MOUNTPOINT} and
 * {@code jbtrfs scrub cancel MOUNTPOINT}: btrfs scrub's words over the mount's scrub ioctls ({@link ScrubRequests}).
 * The daemon's SCRUB returns once the scrub started, so {@code -B} waits by polling SCRUB_PROGRESS (a progress line
 * on a terminal). Both start -B and status end non-zero (3, as btrfs scrub's) while uncorrectable errors remain,
 * and list the files whose data they hit.
 */
@Command(name = "scrub",
        description = "Verify every copy of the mount's data and metadata, repairing from good copies.",
        subcommands = {ScrubCommand.Start.class, ScrubCommand.Status.class, ScrubCommand.Cancel.class})
final class ScrubCommand extends CommandGroup {
    /** The device a single-device image's scrub names (its dev item's devid), the first of a set's. */
    static final long DEVID = 1;
    /** btrfs scrub's exit status when uncorrectable errors remain. */
    static final int UNCORRECTABLE_EXIT = 3;
    private static final long POLL_MS = 200;

    /** What every subcommand shares: the mountpoint, checked to be ours, opened for the ioctls. */
    abstract static class OnMount implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "MOUNTPOINT")
        Path mountpoint;

        @Override
        public Integer call() throws Exception {
            MountTable.requireJbtrfs(mountpoint);
            try (BtrfsIoctlClient m = new BtrfsIoctlClient(mountpoint)) {
                return run(m);
            }
        }

        abstract int run(BtrfsIoctlClient m) throws Exception;
    }

    @Command(name = "start", description = "Start a scrub; -B waits for it and prints the result.")
    static final class Start extends OnMount {
        @Option(names = "-B", description = "Stay in the foreground until the scrub ends, then print its status.")
        boolean foreground;

        @Option(names = "-r",
                description = "Read-only: report errors, repair nothing (the default on a read-only mount).")
        boolean readOnly;

        @Override
        int run(BtrfsIoctlClient m) throws Exception {
            ByteBuffer args = BtrfsIoctlClient.buffer(ScrubRequests.ARGS_SIZE);
            boolean ro = readOnly;
            int scrubbing = 0;
            long maxDevid = maxDevid(m);
            for (long devid = 1; devid <= maxDevid; devid++) {
                int errno = start(m, args, devid, ro);
                if (errno == ENODEV) continue; // an id no member present has (removed, or missing when degraded)
                if (errno == EROFS && !ro) {
                    System.out.println("read-only mount: scrubbing without repair");
                    ro = true;
                    errno = start(m, args, devid, true);
                }
                if (errno != 0) {
                    throw new CliException("scrub of " + mountpoint + " (devid " + devid + ") not started: "
                            + describe(m, errno));
                }
                scrubbing++;
            }
            if (scrubbing == 0) throw new CliException("scrub of " + mountpoint + " not started: no device found");
            System.out.println("scrub started on " + mountpoint + (scrubbing > 1 ? " (" + scrubbing + " devices)" : ""));
            if (!foreground) return 0;
            ScrubStatus s = awaitEnd(m, System.console() != null);
            print(System.out, mountpoint, s);
            return exitStatus(s);
        }

        private static int start(BtrfsIoctlClient m, ByteBuffer args, long devid, boolean readOnly) {
            args.clear();
            for (int i = 0; i < ScrubRequests.ARGS_SIZE; i++) args.put(i, (byte) 0);
            long flags = readOnly ? ScrubRequests.SCRUB_READONLY : 0;
            args.putLong(0, devid).putLong(8, 0).putLong(16, -1L).putLong(24, flags);
            return m.call(ScrubRequests.BTRFS_IOC_SCRUB & 0xffffffffL, args);
        }

        /** Polls until the scrub ended; on a terminal, one progress line rewritten in place. */
        private ScrubStatus awaitEnd(BtrfsIoctlClient m, boolean terminal) throws Exception {
            while (true) {
                ScrubStatus s = progress(m, mountpoint);
                if (s.state() != ScrubStatus.State.RUNNING) {
                    if (terminal) System.out.print("\r\033[K");
                    return s;
                }
                if (terminal) {
                    ScrubProgress p = s.progress();
                    System.out.printf(Locale.ROOT, "\r\033[Kscrubbed %s (data %s, tree %s), %d errors",
                            bytes(p.bytesScrubbed()), bytes(p.dataBytesScrubbed()), bytes(p.treeBytesScrubbed()),
                            p.readErrors() + p.csumErrors() + p.verifyErrors() + p.superErrors());
                    System.out.flush();
                }
                Thread.sleep(POLL_MS);
            }
        }
    }

    @Command(name = "status", description = "Show the running or last scrub of a mount.")
    static final class Status extends OnMount {
        @Override
        int run(BtrfsIoctlClient m) throws Exception {
            ScrubStatus s = progress(m, mountpoint);
            print(System.out, mountpoint, s);
            return exitStatus(s);
        }
    }

    @Command(name = "cancel", description = "Cancel the running scrub of a mount.")
    static final class Cancel extends OnMount {
        @Override
        int run(BtrfsIoctlClient m) throws Exception {
            int errno = m.call(ScrubRequests.BTRFS_IOC_SCRUB_CANCEL, null);
            if (errno == ENOTCONN) throw new CliException("no scrub is running on " + mountpoint, 2);
            if (errno != 0) throw new CliException("scrub cancel failed: " + describe(m, errno));
            System.out.println("scrub canceled on " + mountpoint);
            return 0;
        }
    }

    private static final int EPERM = 1;
    private static final int EROFS = 30;
    private static final int ENOTTY = 25;
    private static final int ENOTCONN = 107;
    private static final int ENODEV = 19;

    private static String describe(BtrfsIoctlClient m, int errno) {
        if (errno == EPERM) return "only root may scrub (" + m.describe(errno) + ")";
        if (errno == ENOTTY) return "the mount does not answer btrfs ioctls (mount it with -o transport=native)";
        return m.describe(errno);
    }

    /** The largest devid of the mount's members (FS_INFO's max_id; 1, a single device's, if it does not answer). */
    static long maxDevid(BtrfsIoctlClient m) {
        ByteBuffer info = BtrfsIoctlClient.buffer(BtrfsIoctl.FS_INFO_SIZE);
        if (m.call(BtrfsIoctl.FS_INFO & 0xffffffffL, info) != 0) return DEVID;
        return Math.max(DEVID, info.getLong(BtrfsIoctl.FS_INFO_MAX_ID));
    }

    /** The scrubs of every member as one (btrfs scrub status' totals), with the paths of their uncorrectable errors. */
    static ScrubStatus progress(BtrfsIoctlClient m, Path mountpoint) throws CliException {
        List<ScrubStatus> each = new ArrayList<>();
        long maxDevid = maxDevid(m);
        for (long devid = 1; devid <= maxDevid; devid++) {
            ScrubStatus s = progress(m, mountpoint, devid);
            if (s != null) each.add(s);
        }
        if (each.isEmpty()) throw new CliException("no scrub has run on " + mountpoint + " since it was mounted", 2);
        return ScrubStatus.ofMembers(each);
    }

    /** SCRUB_PROGRESS of {@code devid} and its error paths; null when that device has no scrub or is not there. */
    private static ScrubStatus progress(BtrfsIoctlClient m, Path mountpoint, long devid) throws CliException {
        ByteBuffer args = BtrfsIoctlClient.buffer(ScrubRequests.ARGS_SIZE);
        args.putLong(0, devid);
        int errno = m.call(ScrubRequests.BTRFS_IOC_SCRUB_PROGRESS & 0xffffffffL, args);
        if (errno == ENOTCONN || errno == ENODEV) return null;
        if (errno != 0) throw new CliException("scrub status of " + mountpoint + ": " + describe(m, errno));
        long total = ScrubRequests.uncorrectablePaths(args);
        List<String> paths = new ArrayList<>();
        ByteBuffer page = BtrfsIoctlClient.buffer(ScrubRequests.ERRORS_SIZE);
        while (paths.size() < total) {
            page.clear();
            page.putLong(0, paths.size()).putLong(8, devid);
            errno = m.call(ScrubRequests.JBTRFS_IOC_SCRUB_ERRORS & 0xffffffffL, page);
            if (errno != 0) throw new CliException("scrub error paths of " + mountpoint + ": " + describe(m, errno));
            int count = page.getInt(4);
            if (count == 0) break;
            int at = 8;
            for (int i = 0; i < count; i++) {
                int end = at;
                while (page.get(end) != 0) end++;
                byte[] line = new byte[end - at];
                page.get(at, line);
                paths.add(new String(line, StandardCharsets.UTF_8));
                at = end + 1;
            }
        }
        return ScrubRequests.decode(args.clear(), paths);
    }

    /** btrfs scrub status' layout: start, status, duration, bytes and rate, the error summary; then the paths. */
    static void print(PrintStream out, Path mountpoint, ScrubStatus s) {
        ScrubProgress p = s.progress();
        long endMillis = s.endedMillis() != 0 ? s.endedMillis() : System.currentTimeMillis();
        long seconds = Math.max(0, (endMillis - s.startedMillis()) / 1000);
        out.println("Mountpoint:       " + mountpoint.toAbsolutePath().normalize());
        out.println("Scrub started:    " + DateTimeFormatter.ofPattern("EEE MMM d HH:mm:ss yyyy", Locale.ROOT)
                .format(Instant.ofEpochMilli(s.startedMillis()).atZone(ZoneId.systemDefault())));
        String state = switch (s.state()) {
            case RUNNING -> "running";
            case FINISHED -> "finished";
            case CANCELED -> "aborted";
            case FAILED -> "failed";
        };
        out.println("Status:           " + state + (s.readOnly() ? " (read-only, nothing repaired)" : ""));
        out.printf(Locale.ROOT, "Duration:         %d:%02d:%02d%n", seconds / 3600, seconds / 60 % 60, seconds % 60);
        out.println("Bytes scrubbed:   " + bytes(p.bytesScrubbed()) + " (data " + bytes(p.dataBytesScrubbed())
                + ", tree " + bytes(p.treeBytesScrubbed()) + ")");
        out.println("Rate:             " + bytes(p.bytesScrubbed() / Math.max(1, seconds)) + "/s");
        StringBuilder summary = new StringBuilder("Error summary:   ");
        if (!p.errors()) {
            summary.append(" no errors found");
        } else {
            appendError(summary, p.readErrors(), "read");
            appendError(summary, p.superErrors(), "super");
            appendError(summary, p.verifyErrors(), "verify");
            appendError(summary, p.csumErrors(), "csum");
            summary.append(System.lineSeparator()).append("  Corrected:      ").append(p.correctedErrors())
                    .append(System.lineSeparator()).append("  Uncorrectable:  ").append(p.uncorrectableErrors())
                    .append(System.lineSeparator()).append("  Unverified:     ").append(p.unverifiedErrors());
        }
        out.println(summary);
        if (!s.uncorrectable().isEmpty()) {
            out.println("Uncorrectable data errors (path from the top-level subvolume):");
            for (String line : s.uncorrectable()) out.println("  " + line);
        }
    }

    private static void appendError(StringBuilder b, long n, String name) {
        if (n != 0) b.append(' ').append(name).append('=').append(n);
    }

    /** btrfs' sizes: "1.50MiB", bytes below 1 KiB as "512.00B". */
    static String bytes(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f%s", v, units[u]);
    }

    static int exitStatus(ScrubStatus s) {
        if (s.progress().uncorrectableErrors() > 0) {
            System.err.println("jbtrfs: there are " + s.progress().uncorrectableErrors() + " uncorrectable errors");
            return UNCORRECTABLE_EXIT;
        }
        return s.state() == ScrubStatus.State.FAILED ? 1 : 0;
    }
}
