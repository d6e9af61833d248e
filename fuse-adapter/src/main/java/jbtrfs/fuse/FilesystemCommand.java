package jbtrfs.fuse;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.fs.SpaceInfo;
import jbtrfs.fuse.node.BtrfsIoctl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jbtrfs filesystem sync|df|usage MOUNTPOINT}: btrfs filesystem's commands and layout on a live mount. */
@Command(name = "filesystem", description = "Commit a mount now (sync) or show its space by type and profile (df, usage).",
        subcommands = {FilesystemCommand.Sync.class, FilesystemCommand.Df.class, FilesystemCommand.Usage.class})
final class FilesystemCommand extends CommandGroup {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    @Command(name = "sync", description = "Commit now; returns when the commit is on disk.")
    static final class Sync extends MountpointCommand {
        @Override
        void run(BtrfsIoctlClient mount) throws CliException {
            mount.syncfs();
            mount.ioctl(BtrfsIoctl.SYNC, null, "sync failed on");
        }
    }

    @Command(name = "df", description = "Show allocated and used space by block group type and profile.")
    static final class Df extends MountpointCommand {
        @Override
        void run(BtrfsIoctlClient mount) throws CliException {
            for (SpaceInfo s : spaceInfo(mount)) System.out.println(dfLine(s.flags(), s.totalBytes(), s.usedBytes()));
        }
    }

    @Command(name = "usage", description = "Show the space of the devices and of each type and profile.")
    static final class Usage extends MountpointCommand {
        @Option(names = {"-b", "--raw"}, description = "Raw numbers in bytes.")
        boolean raw;

        @Override
        void run(BtrfsIoctlClient mount) throws CliException {
            FilesystemUsage.read(mount, mountpoint).lines(raw).forEach(System.out::println);
        }
    }

    /** BTRFS_IOC_SPACE_INFO: once for the count, once more with room for every line. */
    static List<SpaceInfo> spaceInfo(BtrfsIoctlClient mount) throws CliException {
        ByteBuffer head = BtrfsIoctlClient.buffer(BtrfsIoctl.SPACE_ARGS_SIZE);
        mount.ioctl(BtrfsIoctl.SPACE_INFO, head, "cannot get space info on");
        int n = (int) head.getLong(8);
        ByteBuffer all = BtrfsIoctlClient.buffer(BtrfsIoctl.SPACE_ARGS_SIZE + n * BtrfsIoctl.SPACE_INFO_SIZE);
        all.putLong(0, n);
        mount.ioctl(BtrfsIoctl.SPACE_INFO, all, "cannot get space info on");
        int got = (int) all.getLong(8);
        List<SpaceInfo> out = new ArrayList<>(got);
        for (int i = 0; i < got; i++) {
            int at = BtrfsIoctl.SPACE_ARGS_SIZE + i * BtrfsIoctl.SPACE_INFO_SIZE;
            out.add(new SpaceInfo(all.getLong(at), all.getLong(at + 8), all.getLong(at + 16)));
        }
        return out;
    }

    /** {@code Data, single: total=8.00MiB, used=0.00B}. */
    static String dfLine(long flags, long total, long used) {
        return typeName(flags) + ", " + BlockGroupFlags.profileName(flags) + ": total=" + prettySize(total) + ", used="
                + prettySize(used);
    }

    static String typeName(long flags) {
        if (flags == SpaceInfo.GLOBAL_RSV) return "GlobalReserve";
        long t = flags & BlockGroupFlags.TYPE_MASK;
        if (t == (BlockGroupFlags.DATA | BlockGroupFlags.METADATA)) return "Data+Metadata";
        if (t == BlockGroupFlags.DATA) return "Data";
        if (t == BlockGroupFlags.SYSTEM) return "System";
        if (t == BlockGroupFlags.METADATA) return "Metadata";
        return "unknown";
    }

    /**
     * btrfs-progs' pretty_size in its default base-1024 mode: the value divided down while at least 1024, as a
     * float, printed with two decimals (rounded as printf rounds the float's exact value).
     */
    static String prettySize(long size) {
        int unit = 0;
        float fraction;
        if (Long.compareUnsigned(size, 1024) < 0) {
            fraction = size;
        } else {
            long last = size;
            long s = size;
            do {
                last = s;
                s = Long.divideUnsigned(s, 1024);
                unit++;
            } while (Long.compareUnsigned(s, 1024) >= 0);
            fraction = (float) last / 1024;
        }
        return new BigDecimal(fraction).setScale(2, RoundingMode.HALF_EVEN).toPlainString() + UNITS[unit];
    }
}
