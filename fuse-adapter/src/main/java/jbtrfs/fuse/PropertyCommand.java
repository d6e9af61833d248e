package jbtrfs.fuse;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import jbtrfs.fuse.node.BtrfsIoctl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jbtrfs property get|set PATH ro [true|false]}: a subvolume's read-only flag, as btrfs property shows it. */
@Command(name = "property", description = "Get or set a subvolume's read-only property (ro).",
        subcommands = {PropertyCommand.Get.class, PropertyCommand.Set.class})
final class PropertyCommand extends CommandGroup {
    private static final String RO = "ro";

    @Command(name = "get", description = "Show ro=true or ro=false.")
    static final class Get implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PATH")
        Path path;

        @Parameters(index = "1", arity = "0..1", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws CliException {
            if (name != null && !name.equals(RO)) throw new CliException("unknown property: " + name);
            try (BtrfsIoctlClient target = new BtrfsIoctlClient(path)) {
                System.out.println("ro=" + readOnly(target));
            }
            return 0;
        }
    }

    @Command(name = "set", description = "Set ro to true or false on a subvolume.")
    static final class Set implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PATH")
        Path path;

        @Parameters(index = "1", paramLabel = "NAME")
        String name;

        @Parameters(index = "2", paramLabel = "VALUE")
        String value;

        @Override
        public Integer call() throws CliException {
            if (!name.equals(RO)) throw new CliException("unknown property: " + name);
            boolean ro;
            if (value.equals("true")) {
                ro = true;
            } else if (value.equals("false")) {
                ro = false;
            } else {
                throw new CliException("invalid value for property: " + value);
            }
            try (BtrfsIoctlClient target = new BtrfsIoctlClient(path)) {
                long f = flags(target);
                ByteBuffer flags = BtrfsIoctlClient.buffer(8);
                flags.putLong(0, ro ? f | BtrfsIoctl.SUBVOL_RDONLY : f & ~BtrfsIoctl.SUBVOL_RDONLY);
                target.ioctl(BtrfsIoctl.SUBVOL_SETFLAGS, flags, "cannot set the flags of");
            }
            return 0;
        }
    }

    static boolean readOnly(BtrfsIoctlClient target) throws CliException {
        return (flags(target) & BtrfsIoctl.SUBVOL_RDONLY) != 0;
    }

    /** SUBVOL_GETFLAGS of the subvolume whose root {@code target} is. */
    private static long flags(BtrfsIoctlClient target) throws CliException {
        ByteBuffer flags = BtrfsIoctlClient.buffer(8);
        target.ioctl(BtrfsIoctl.SUBVOL_GETFLAGS, flags, "cannot read the flags of");
        return flags.getLong(0);
    }
}
