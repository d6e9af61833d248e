package jbtrfs.fuse;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** A command that only groups subcommands ({@code jbtrfs subvolume}): run alone, it is a usage error naming them. */
abstract class CommandGroup implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public final void run() {
        throw new ParameterException(spec.commandLine(),
                "missing subcommand (" + String.join(", ", spec.subcommands().keySet()) + ")");
    }
}
