package jbtrfs.fuse;

import java.io.PrintWriter;
import java.util.List;

import org.slf4j.LoggerFactory;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jbtrfs} command line: mount, umount, info, stats, scrub, bench-device, bench-commit, and on a live
 * mount subvolume, property, filesystem and device. Errors are one line and a non-zero exit. */
@Command(name = "jbtrfs", mixinStandardHelpOptions = true, version = "jbtrfs 0.1.0",
        description = "A userspace Btrfs over FUSE.",
        subcommands = {MountCommand.class, UmountCommand.class, RemountCommand.class, InfoCommand.class, StatsCommand.class,
                ScrubCommand.class, BenchDeviceCommand.class, BenchCommitCommand.class, SubvolumeCommand.class,
                PropertyCommand.class, FilesystemCommand.class, DeviceCommand.class})
public final class JbtrfsCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (mount, umount, info, ...)");
    }

    public static void main(String[] args) {
        List<String> a = List.of(args);
        Logging.configure(a.contains("mount") && (a.contains("-f") || a.contains("--foreground")
                || a.contains("--detached")));
        if (a.contains("mount") && a.contains("--detached")) Logging.startInBackground();
        int exitCode = run(args);
        Detached.ended(exitCode);
        System.exit(exitCode);
    }

    /** Runs the command line and returns the exit code (tests call this). */
    static int run(String... args) {
        if (args.length > 0 && args[0].equals("mount")) {
            // the daemon bin/jbtrfs starts, in the forms it passes: no picocli model at all (PlainMountArgs)
            MountCommand plain = PlainMountArgs.parse(List.of(args).subList(1, args.length));
            if (plain != null) {
                try {
                    return plain.call();
                } catch (Exception e) {
                    return failed(e, new PrintWriter(System.err, true));
                }
            }
        }
        CommandLine cl;
        if (args.length > 0 && args[0].equals("mount") && List.of(args).contains("--detached")) {
            // the daemon with arguments picocli reads: the models of every other command (picocli reflects over
            // each) would cost it about 30 ms of CPU before it mounts
            cl = new CommandLine(new MountCommand()).setCommandName("jbtrfs mount");
            args = List.of(args).subList(1, args.length).toArray(String[]::new);
        } else {
            cl = new CommandLine(new JbtrfsCommand());
        }
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> failed(e, commandLine.getErr()));
        return cl.execute(args);
    }

    /** A command that threw {@code e}: one line on {@code err}, and the exit code. */
    private static int failed(Exception e, PrintWriter err) {
        if (e instanceof CliException c) {
            err.println("jbtrfs: " + c.getMessage());
            err.flush();
            return c.exitCode();
        }
        LoggerFactory.getLogger(JbtrfsCommand.class).debug("failure", e);
        String msg = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        err.println("jbtrfs: " + msg.lines().findFirst().orElse(msg));
        err.flush();
        return 1;
    }
}
