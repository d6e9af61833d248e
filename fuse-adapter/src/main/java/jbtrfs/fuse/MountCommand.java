package jbtrfs.fuse;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jbtrfs.TransactionAbortedException;
import jbtrfs.device.Backend;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;
import jbtrfs.fuse.kernel.FuseHandler;
import jbtrfs.fuse.node.KernelClock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jbtrfs mount}: checks what a mount needs, then either serves FUSE in this process ({@code -f}) or starts
 * itself again as a background daemon and returns once the mount is live, like fuse2fs.
 */
@Command(name = "mount", description = "Mount a Btrfs image through FUSE.")
final class MountCommand implements Callable<Integer> {
    private static final long MOUNT_TIMEOUT_MS = 60_000;
    /** How long SIGTERM waits for the last commit before the JVM halts. */
    private static final long SHUTDOWN_CLOSE_S = 20;

    @Option(names = "--read-only", description = "Mount read-only (also -o ro); images we cannot write safely need it.")
    boolean readOnly;

    @Option(names = "-o", paramLabel = "OPTS", description = "Mount options: subvol=, subvolid=, read_ahead_kb= (default 1024), "
            + "dirty_limit=kernel|fuse|PERCENT (default kernel), threads= (FUSE worker "
            + "threads, default 2 per CPU, at least 4), metrics=[HOST:]PORT, "
            + "transport=native|libfuse (default native), [no_]writeback_cache, raw_inodes and io_uring (native), "
            + "nologreplay (read-only: show the last commit, not the log's fsyncs), notreelog (every fsync commits), device=PATH (each other device "
            + "of a multi-device filesystem), degraded (mount with devices missing where every chunk keeps a copy), and FUSE options "
            + "(allow_other, default_permissions, uid=, gid=, ...) passed on.")
    List<String> options = new ArrayList<>();

    @Option(names = {"-f", "--foreground"}, description = "Stay in the foreground and log to stderr.")
    boolean foreground;

    /** Started in the background by bin/jbtrfs, which relays our stderr until the mount is live: see {@link Detached}. */
    @Option(names = "--detached", hidden = true)
    boolean detached;

    @Option(names = "--device-backend", paramLabel = "aio|nio",
            description = "How the image is read (default: nio, buffered, whose readahead suits FUSE reads).")
    String deviceBackend;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "MOUNTPOINT")
    Path mountpoint;

    @Override
    public Integer call() throws Exception {
        if (detached) Detached.start(DaemonState.forMountpoint(mountpoint).logFile());
        MountOptionParser parsed = MountOptionParser.parse(options);
        if (parsed.noLogReplay() && !readOnly && !parsed.readOnlyRequested()) {
            // the kernel's rule too: a log left unreplayed must not be built on
            throw new CliException("nologreplay needs a read-only mount (--read-only or -o ro)", 2);
        }
        if (deviceBackend != null) {
            try {
                Backend.parse(deviceBackend);
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage(), 2);
            }
        }
        checkPrerequisites();
        return foreground || detached ? serve(parsed) : startDaemon();
    }

    private void checkPrerequisites() throws CliException, IOException {
        if (!Files.exists(image)) throw new CliException("image not found: " + image);
        if (!Files.isReadable(image)) throw new CliException("image not readable: " + image);
        for (String device : MountOptionParser.parse(options).devices()) {
            Path p = Path.of(device);
            if (!Files.exists(p)) throw new CliException("device not found: " + device);
            if (!Files.isReadable(p)) throw new CliException("device not readable: " + device);
        }
        if (!Files.exists(mountpoint)) throw new CliException("mountpoint does not exist: " + mountpoint);
        if (!Files.isDirectory(mountpoint)) throw new CliException("mountpoint is not a directory: " + mountpoint);
        String type = MountTable.typeAt(mountpoint);
        if (type != null) throw new CliException("mountpoint is busy: " + mountpoint + " already has a " + type + " mount");
        if (!Files.exists(Path.of("/dev/fuse"))) {
            throw new CliException("no /dev/fuse: load the fuse module (modprobe fuse), or give a container "
                    + "--device /dev/fuse --cap-add SYS_ADMIN");
        }
        if (Fusermount.path() == null) throw new CliException("fusermount not found: install the fuse package");
    }

    /** Serves the mount in this process until it is unmounted or the process is told to stop. */
    private int serve(MountOptionParser parsed) throws Exception {
        boolean ro = readOnly || parsed.readOnlyRequested();
        MountOptions mo = new MountOptions(ro, parsed.subvol(), parsed.subvolid(),
                deviceBackend == null ? null : Backend.parse(deviceBackend))
                .withCommitSeconds(parsed.commitSeconds())
                .withSpaceCache(parsed.spaceCache(), parsed.clearCache())
                .withSerialWriteout(parsed.serialWriteout())
                .withCompression(ro ? null : parsed.compression())
                // the native transport says when the kernel forgets an inode: open, unlinked files live on till then
                .withEvictingTransport(parsed.transport() == MountOptionParser.Transport.NATIVE)
                .withNoLogReplay(parsed.noLogReplay()).withNoTreeLog(parsed.noTreeLog())
                .withDevices(parsed.devices().stream().map(Path::of).toList(), parsed.degraded());
        // before the filesystem starts its threads, which inherit it
        String notFlusher = !ro && parsed.dirtyLimit().raises() ? DirtyLimit.becomeIoFlusher() : null;
        MeterRegistry registry = parsed.metrics() != null ? new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
                : new CompositeMeterRegistry();
        // the native transport stamps new files from the kernel's coarse clock (KernelClock)
        Filesystem fs = parsed.transport() == MountOptionParser.Transport.NATIVE
                ? Filesystem.open(image, mo, registry, KernelClock.forMount()) : Filesystem.open(image, mo, registry);
        FilesystemMeters.bind(fs, registry);
        if (parsed.metrics() != null) FilesystemMeters.bindProcess(registry);
        MetricsServer metrics = null;
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        state.clearAbort();
        fs.onAbort(a -> state.writeAbort(a.getMessage()));
        if (parsed.metrics() != null) {
            try {
                metrics = MetricsServer.start(parsed.metrics(), (PrometheusMeterRegistry) registry);
            } catch (CliException e) {
                fs.close();
                throw e;
            }
            state.writeMetrics(parsed.metrics().getHostString() + ":" + metrics.port());
        }
        boolean nativeTransport = parsed.transport() == MountOptionParser.Transport.NATIVE;
        state.writePid(ProcessHandle.current().pid());
        MountedSession session;
        try {
            if (nativeTransport) {
                FuseHandler handler = NativeTransport.handler(fs.operations(),
                        fs.superBlock().sectorsize(), fs.readOnly(), parsed.rawInodes(), registry);
                log().info("mounting {} at {} (native transport)", image, mountpoint);
                session = NativeTransport.mount(handler, image, mountpoint, parsed, fs.readOnly());
            } else {
                JbtrfsFuse fuse = new JbtrfsFuse(fs.operations(), fs.superBlock().sectorsize(), registry);
                List<String> fuseArgs = List.of("-o", parsed.fuseOptions(image.toAbsolutePath().toString(),
                        fs.readOnly()));
                log().info("mounting {} at {} (options {})", image, mountpoint, fuseArgs.get(1));
                if (parsed.ioUring()) log().warn("io_uring is for transport=native: libfuse 2 reads /dev/fuse");
                session = FuseSession.mount(fuse, mountpoint, fuseArgs, parsed.threads(), fs.readOnly(),
                        parsed.readAheadKib());
            }
        } catch (IOException e) {
            closeQuietly(metrics, state, fs);
            state.clear(ProcessHandle.current().pid());
            throw new CliException(e.getMessage());
        }
        // the bdi belongs to the superblock: a remount keeps it
        if (!fs.readOnly()) parsed.dirtyLimit().apply(mountpoint, notFlusher);
        RemountWatcher remounts = RemountWatcher.start(mountpoint, fs.operations(), state);
        Detached.mounted(mountedLine(ProcessHandle.current().pid(), state));
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // SIGTERM/SIGINT: unmount, and let the main thread close the filesystem before the JVM halts
            session.unmount();
            try {
                if (!closed.await(SHUTDOWN_CLOSE_S, TimeUnit.SECONDS)) {
                    String line = "stopped before the last commit finished: changes since the last commit were "
                            + "not written";
                    log().error(line);
                    state.writeExit(1, line);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "jbtrfs-shutdown"));
        try {
            int result;
            String lost;
            try {
                result = session.await();
            } finally {
                remounts.close();
                lost = closeQuietly(metrics, state, fs);
            }
            if (lost != null) {
                // before the latch opens: on SIGTERM the JVM halts (exit 143) once it does
                state.writeExit(1, lost);
                System.err.println("jbtrfs: " + lost);
                return 1;
            }
            if (result != 0) {
                log().error("the FUSE session ended with error {}", -result);
                throw new CliException("the FUSE session failed (errno " + -result + ")");
            }
            log().info("unmounted {}", mountpoint);
            // for umount: this daemon shut down cleanly
            state.writeExit(0);
            return 0;
        } finally {
            closed.countDown();
        }
    }

    /**
     * Closes the filesystem (its last commit) and the metrics endpoint. Returns null when everything was written,
     * else the one line that says what was lost: a daemon that lost changes must never exit 0.
     */
    private static String closeQuietly(MetricsServer metrics, DaemonState state, Filesystem fs) {
        if (metrics != null) {
            metrics.close();
            state.clearMetrics();
        }
        try {
            fs.close();
        } catch (TransactionAbortedException e) {
            return lostChanges(e); // the abort logged its reason when it happened
        } catch (IOException | RuntimeException e) {
            log().error("closing the filesystem failed", e);
            return "unmounted, but closing the filesystem failed: " + e.getMessage();
        }
        TransactionAbortedException a = fs.aborted();
        return a == null ? null : lostChanges(a);
    }

    /** What an unmount after an abort says, in one line. */
    static String lostChanges(TransactionAbortedException a) {
        return "unmounted, but changes since the last commit (transaction " + a.committedGeneration()
                + ") were not written: " + a.reason();
    }

    /** Starts {@code jbtrfs mount -f} in the background with its output in a log file; waits until it is live. */
    private int startDaemon() throws Exception {
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        List<String> cmd = new ArrayList<>();
        // its own session, like a daemon that forked: a hangup or Ctrl-C meant for this command's terminal must not
        // reach it (setsid execs in place here, so the pid stays the daemon's)
        Path setsid = Fusermount.onPath("setsid");
        if (setsid != null) cmd.add(setsid.toString());
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        // JVM options (JBTRFS_JAVA_OPTS through the launcher) go to the daemon too
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-jar");
        cmd.add(Path.of(MountCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        cmd.add("mount");
        cmd.add("-f");
        if (readOnly) cmd.add("--read-only");
        if (deviceBackend != null) {
            cmd.add("--device-backend");
            cmd.add(deviceBackend);
        }
        for (String o : options) {
            cmd.add("-o");
            cmd.add(o);
        }
        cmd.add(image.toAbsolutePath().toString());
        cmd.add(mountpoint.toAbsolutePath().toString());
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(state.logFile().toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        state.clearAbort();
        state.writePid(child.pid());
        long deadline = System.currentTimeMillis() + MOUNT_TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if ("fuse.jbtrfs".equals(MountTable.typeAt(mountpoint))) {
                System.err.println(mountedLine(child.pid(), state));
                return 0;
            }
            if (child.waitFor(100, TimeUnit.MILLISECONDS)) {
                state.clear(child.pid());
                throw new CliException(lastProblem(state.logFile()));
            }
        }
        child.destroy();
        state.clear(child.pid());
        throw new CliException("the mount did not come up within " + MOUNT_TIMEOUT_MS / 1000 + " s (log "
                + state.logFile() + ")");
    }

    /** What a mount that returns while its daemon serves prints (mount.fuse.jbtrfs keeps it off the terminal). */
    private String mountedLine(long pid, DaemonState state) {
        return "jbtrfs: mounted " + image + " at " + mountpoint + " (daemon pid " + pid + ", log " + state.logFile()
                + ")";
    }

    /**
     * The daemon's own one-line error from its log, without the "jbtrfs: " it already carries; when libfuse said why
     * ("fuse: ...") on the line before, that reason is added.
     */
    static String lastProblem(Path log) throws IOException {
        // leniently: libfuse may echo bytes that are not UTF-8 ("fuse: unknown option ..."), which readAllLines refuses
        List<String> lines = new String(Files.readAllBytes(log), StandardCharsets.UTF_8).lines().toList();
        for (int i = lines.size() - 1; i >= 0; i--) {
            String l = lines.get(i).trim();
            if (!l.startsWith("jbtrfs: ")) continue;
            String before = i > 0 ? lines.get(i - 1).trim() : "";
            if (before.startsWith("fuse: ") || before.startsWith("fusermount: ")) {
                return l.substring(8) + " (" + before + ")";
            }
            return l.substring(8);
        }
        for (int i = lines.size() - 1; i >= 0; i--) {
            if (!lines.get(i).isBlank()) return "the daemon failed: " + lines.get(i).trim() + " (log " + log + ")";
        }
        return "the daemon exited without a word (log " + log + ")";
    }

    /** Made at first use, not when picocli loads this class: the detached daemon sets slf4j up meanwhile. */
    private static Logger log() {
        return LogHolder.LOG;
    }

    private static final class LogHolder {
        static final Logger LOG = LoggerFactory.getLogger(MountCommand.class);
    }
}
