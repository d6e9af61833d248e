package jbtrfs.fuse;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code jbtrfs info IMAGE [DEVICE...]}: a summary of the image for people; a multi-device filesystem's other devices
 * follow the first, and the summary lists every member (one missing is shown as such, as a degraded mount would).
 */
@Command(name = "info", description = "Show a summary of a Btrfs image: features, sizes, block groups, subvolumes; "
        + "for a multi-device filesystem give every device, and each member is listed.")
final class InfoCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1..*", paramLabel = "DEVICE", description = "The other devices of a multi-device filesystem.")
    List<Path> devices = List.of();

    @Override
    public Integer call() throws Exception {
        MountOptions options = MountOptions.readOnlyDefaults().withDevices(devices, true);
        try (Filesystem fs = Filesystem.open(image, options, null)) {
            System.out.print(InfoFormatter.format(image.toString(), fs.info()));
        }
        return 0;
    }
}
