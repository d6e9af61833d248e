package jbtrfs.fuse;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Parameters;

/**
 * A subcommand that works on one live mount through the btrfs ioctls ({@code jbtrfs filesystem sync MOUNTPOINT}):
 * opens the mountpoint, runs, closes it, and exits 0; a failure is a {@link CliException}.
 */
abstract class MountpointCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountpoint;

    /** What the command does with the open mountpoint. */
    abstract void run(BtrfsIoctlClient mount) throws CliException;

    @Override
    public final Integer call() throws CliException {
        try (BtrfsIoctlClient mount = new BtrfsIoctlClient(mountpoint)) {
            run(mount);
        }
        return 0;
    }
}
