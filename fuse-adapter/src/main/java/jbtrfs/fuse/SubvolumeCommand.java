package jbtrfs.fuse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import jbtrfs.format.ObjectIds;
import jbtrfs.fuse.node.BtrfsIoctl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jbtrfs subvolume create|delete|list|snapshot|get-default|set-default|show}: btrfs-progs' commands and output on
 * a live jbtrfs mount (the real {@code btrfs} refuses a FUSE mount), through the kernel's btrfs ioctls.
 */
@Command(name = "subvolume", description = "Create, delete, list and snapshot subvolumes on a live mount.",
        subcommands = {SubvolumeCommand.Create.class, SubvolumeCommand.Delete.class, SubvolumeCommand.ListCmd.class,
            SubvolumeCommand.Snapshot.class, SubvolumeCommand.GetDefault.class, SubvolumeCommand.SetDefault.class,
            SubvolumeCommand.Show.class})
final class SubvolumeCommand extends CommandGroup {
    @Command(name = "create", description = "Create a subvolume.")
    static final class Create implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PATH")
        Path path;

        @Override
        public Integer call() throws CliException {
            String dir = dirname(path);
            String name = basename(path);
            try (BtrfsIoctlClient parent = new BtrfsIoctlClient(Path.of(dir))) {
                parent.ioctl(BtrfsIoctl.SUBVOL_CREATE_V2, volArgs(0, 0, name), "cannot create subvolume in");
            }
            System.out.println("Create subvolume '" + dir + "/" + name + "'");
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete subvolumes (their space comes back as the cleaner drops them).")
    static final class Delete implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "PATH")
        List<Path> paths;

        @Override
        public Integer call() throws CliException {
            for (Path p : paths) {
                Path dir;
                try {
                    dir = Path.of(dirname(p)).toRealPath();
                } catch (IOException e) {
                    throw new CliException("cannot access '" + p + "': no such file or directory");
                }
                String name = basename(p);
                System.out.println("Delete subvolume (no-commit): '" + dir + "/" + name + "'");
                try (BtrfsIoctlClient parent = new BtrfsIoctlClient(dir)) {
                    parent.ioctl(BtrfsIoctl.SNAP_DESTROY_V2, volArgs(0, 0, name), "cannot delete subvolume in");
                }
            }
            return 0;
        }
    }

    @Command(name = "list", description = "List the subvolumes, as btrfs subvolume list does.")
    static final class ListCmd extends MountpointCommand {
        @Option(names = "-s", description = "Only snapshots.")
        boolean snapshots;

        @Option(names = "-r", description = "Only read-only subvolumes.")
        boolean readOnly;

        @Override
        void run(BtrfsIoctlClient mount) throws CliException {
            for (SubvolumeTable.Row row : SubvolumeTable.read(mount)) {
                if (snapshots && !row.snapshot()) continue;
                if (readOnly && !row.item().readOnly()) continue;
                System.out.println(row.line(snapshots));
            }
        }
    }

    @Command(name = "snapshot", description = "Snapshot a subvolume (-r: read-only).")
    static final class Snapshot implements Callable<Integer> {
        @Option(names = "-r", description = "Make the snapshot read-only.")
        boolean readOnly;

        @Parameters(index = "0", paramLabel = "SOURCE")
        Path source;

        @Parameters(index = "1", paramLabel = "DEST")
        Path dest;

        @Override
        public Integer call() throws CliException {
            // an existing directory receives the snapshot under the source's name, as btrfs-progs does
            boolean into = Files.isDirectory(dest);
            String dir = into ? dest.toString() : dirname(dest);
            String name = into ? basename(source) : basename(dest);
            try (BtrfsIoctlClient src = new BtrfsIoctlClient(source);
                 BtrfsIoctlClient parent = new BtrfsIoctlClient(Path.of(dir))) {
                parent.ioctl(BtrfsIoctl.SNAP_CREATE_V2,
                        volArgs(src.fd(), readOnly ? BtrfsIoctl.SUBVOL_RDONLY : 0, name), "cannot snapshot into");
            }
            System.out.println("Create a " + (readOnly ? "readonly " : "") + "snapshot of '" + source + "' in '"
                    + dir + "/" + name + "'");
            return 0;
        }
    }

    @Command(name = "show", description = "Show a subvolume's details and snapshots, as btrfs subvolume show does.")
    static final class Show implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PATH")
        Path path;

        @Override
        public Integer call() throws CliException {
            try (BtrfsIoctlClient subvol = new BtrfsIoctlClient(path)) {
                ByteBuffer b = BtrfsIoctlClient.buffer(BtrfsIoctl.SUBVOL_INFO_SIZE);
                subvol.ioctl(BtrfsIoctl.GET_SUBVOL_INFO, b, "cannot get subvolume info of");
                SubvolumeShow.lines(BtrfsIoctl.decodeSubvolInfo(b), SubvolumeTable.read(subvol, ObjectIds.FS_TREE))
                        .forEach(System.out::println);
            }
            return 0;
        }
    }

    @Command(name = "get-default", description = "Show the default subvolume.")
    static final class GetDefault extends MountpointCommand {
        @Override
        void run(BtrfsIoctlClient mount) throws CliException {
            long id = SubvolumeTable.defaultSubvolume(mount);
            if (id == ObjectIds.FS_TREE) {
                System.out.println("ID 5 (FS_TREE)");
                return;
            }
            for (SubvolumeTable.Row row : SubvolumeTable.read(mount)) {
                if (row.id() == id) System.out.println(row.line(false));
            }
        }
    }

    @Command(name = "set-default", description = "Set the default subvolume: SUBVOLID MOUNTPOINT, or a subvolume's PATH.")
    static final class SetDefault implements Callable<Integer> {
        @Parameters(arity = "1..2", paramLabel = "ARG")
        List<String> args;

        @Override
        public Integer call() throws CliException {
            Path path = Path.of(args.get(args.size() - 1));
            try (BtrfsIoctlClient target = new BtrfsIoctlClient(path)) {
                long id;
                if (args.size() == 2) {
                    try {
                        id = Long.parseUnsignedLong(args.get(0));
                    } catch (NumberFormatException e) {
                        throw new CliException("invalid subvolume id: " + args.get(0), 2);
                    }
                } else {
                    ByteBuffer a = BtrfsIoctlClient.buffer(BtrfsIoctl.INO_LOOKUP_SIZE);
                    a.putLong(8, ObjectIds.FIRST_FREE_DIR);
                    target.ioctl(BtrfsIoctl.INO_LOOKUP, a, "cannot find the subvolume of");
                    id = a.getLong(0);
                }
                ByteBuffer a = BtrfsIoctlClient.buffer(8);
                a.putLong(0, id);
                target.ioctl(BtrfsIoctl.DEFAULT_SUBVOL, a, "cannot set the default subvolume of");
            }
            return 0;
        }
    }

    /** btrfs_ioctl_vol_args_v2 in a direct buffer. */
    static ByteBuffer volArgs(long fd, long flags, String name) {
        ByteBuffer a = BtrfsIoctlClient.buffer(BtrfsIoctl.VOL_ARGS_SIZE);
        a.put(BtrfsIoctl.volArgsV2(fd, flags, name));
        return a.clear();
    }

    /** dirname(3) of the path as typed: "." for a bare name. */
    static String dirname(Path p) {
        Path parent = p.getParent();
        if (parent == null) return p.isAbsolute() ? "/" : ".";
        return parent.toString();
    }

    static String basename(Path p) {
        Path name = p.getFileName();
        return name == null ? "/" : name.toString();
    }
}
