package jbtrfs.fuse;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import jbtrfs.fuse.node.BtrfsIoctl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jbtrfs device stats [-c] MOUNTPOINT}: btrfs device stats' counters of every member of a live mount, in its
 * layout (btrfs-progs takes only a mount of type btrfs): FS_INFO and DEV_INFO for the members, GET_DEV_STATS each.
 */
@Command(name = "device", description = "Show the error counters of the members of a mount (stats).",
        subcommands = {DeviceCommand.Stats.class})
final class DeviceCommand extends CommandGroup {
    /** The counters in btrfs_dev_stat_values order, named as btrfs device stats names them. */
    private static final String[] COUNTERS = {"write_io_errs", "read_io_errs", "flush_io_errs", "corruption_errs",
        "generation_errs"};

    @Command(name = "stats", description = "Show each member's error counters, as the device tree keeps them.")
    static final class Stats implements Callable<Integer> {
        @Option(names = {"-c", "--check"}, description = "Exit 64 when any counter is not zero.")
        boolean check;

        @Parameters(index = "0", paramLabel = "MOUNTPOINT")
        Path mountpoint;

        @Override
        public Integer call() throws CliException {
            int exit = 0;
            try (BtrfsIoctlClient mount = new BtrfsIoctlClient(mountpoint)) {
                for (FilesystemUsage.Device d : FilesystemUsage.devices(mount)) {
                    ByteBuffer a = BtrfsIoctlClient.buffer(BtrfsIoctl.DEV_STATS_SIZE);
                    a.putLong(0, d.devid()).putLong(BtrfsIoctl.DEV_STATS_NR_ITEMS, COUNTERS.length);
                    int errno = mount.call(Integer.toUnsignedLong(BtrfsIoctl.GET_DEV_STATS), a);
                    if (errno != 0) {
                        System.err.println("ERROR: device stats ioctl failed on " + mountpoint + ": "
                                + mount.describe(errno));
                        exit |= 1;
                        continue;
                    }
                    // a member missing from a degraded mount has no path: progs names it by devid
                    String name = d.path().equals("missing") ? "devid:" + d.devid() : d.path();
                    long got = a.getLong(BtrfsIoctl.DEV_STATS_NR_ITEMS);
                    for (int i = 0; i < COUNTERS.length && i < got; i++) {
                        long value = a.getLong(BtrfsIoctl.DEV_STATS_VALUES + i * 8);
                        System.out.printf("[%s].%-16s %s%n", name, COUNTERS[i], Long.toUnsignedString(value));
                        if (check && value != 0) exit |= 64;
                    }
                }
            }
            return exit;
        }
    }
}
