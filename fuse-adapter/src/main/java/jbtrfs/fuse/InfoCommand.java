package jbtrfs.fuse;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jbtrfs info IMAGE}: a summary of the image for people. */
@Command(name = "info", description = "Show a summary of a Btrfs image: features, sizes, block groups, subvolumes.")
final class InfoCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Override
    public Integer call() throws Exception {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            System.out.print(InfoFormatter.format(image.toString(), fs.info()));
        }
        return 0;
    }
}
