package jbtrfs.fuse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jbtrfs umount MOUNTPOINT}: unmounts and waits until the daemon has exited. */
@Command(name = "umount", description = "Unmount a jbtrfs mount and wait for its daemon to exit.")
final class UmountCommand implements Callable<Integer> {
    private static final long EXIT_TIMEOUT_S = 60;

    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountpoint;

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(mountpoint)) throw new CliException("mountpoint does not exist: " + mountpoint);
        String type = MountTable.typeAt(mountpoint);
        if (type == null) throw new CliException("not mounted: " + mountpoint);
        if (!type.equals("fuse.jbtrfs")) throw new CliException(mountpoint + " is a " + type + " mount, not jbtrfs");
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        Optional<ProcessHandle> daemon = state.readPid() > 0 ? ProcessHandle.of(state.readPid()) : Optional.empty();
        Path fusermount = Fusermount.path();
        if (fusermount == null) throw new CliException("fusermount not found: install the fuse package");
        Process p = new ProcessBuilder(fusermount.toString(), "-u", mountpoint.toAbsolutePath().toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new CliException("unmount failed: " + (out.isEmpty() ? "fusermount exit " + p.exitValue()
                    : out.lines().findFirst().orElse(out)));
        }
        if (daemon.isPresent()) {
            try {
                daemon.get().onExit().get(EXIT_TIMEOUT_S, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new CliException("unmounted, but the daemon (pid " + daemon.get().pid() + ") has not exited after "
                        + EXIT_TIMEOUT_S + " s");
            }
        }
        state.clear();
        return 0;
    }
}
