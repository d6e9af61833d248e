package jbtrfs.fuse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jbtrfs remount -o ro|rw MOUNTPOINT} (what {@code mount -o remount,ro} runs through the mount helper):
 * the kernel remounts, and for ro this waits until the daemon has committed everything written before.
 */
@Command(name = "remount", description = "Turn a live mount read-only (committing first) or read-write again.")
final class RemountCommand implements Callable<Integer> {
    private static final long WAIT_MS = 60_000;

    @Option(names = "-o", description = "ro or rw; other options cannot change on a live mount and are ignored.")
    List<String> options = new ArrayList<>();

    @Parameters(index = "0", description = "The mountpoint.")
    Path mountpoint;

    @Override
    public Integer call() throws Exception {
        String want = null;
        for (String group : options) {
            for (String o : group.split(",")) {
                if (o.equals("ro") || o.equals("rw")) want = o;
            }
        }
        MountTable.requireJbtrfs(mountpoint);
        if (want == null) return 0;
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        String word = state.readRemount();
        if (word == null) throw new CliException("the daemon of " + mountpoint + " does not answer (log "
                + state.logFile() + ")");
        if (want.equals("rw") && word.equals(RemountWatcher.READ_ONLY_IMAGE)) {
            throw new CliException("the image was mounted read-only: unmount it and mount it read-write");
        }
        // -i: no helper, or mount(8) would run ours again
        Process p = new ProcessBuilder("mount", "-i", "-o", "remount," + want, mountpoint.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new CliException("remount failed: " + out.lines().findFirst().orElse("mount exit " + p.exitValue()));
        }
        String done = want.equals("ro") ? RemountWatcher.RO_COMMITTED : RemountWatcher.RW;
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            word = state.readRemount();
            if (done.equals(word)) return 0;
            if (word != null && word.startsWith(RemountWatcher.RO_FAILED)) {
                throw new CliException("remounted read-only, but the commit failed: "
                        + word.substring(RemountWatcher.RO_FAILED.length()));
            }
            Thread.sleep(50);
        }
        throw new CliException("remounted " + want + ", but the daemon did not confirm within " + WAIT_MS / 1000
                + " s (log " + state.logFile() + ")");
    }
}
