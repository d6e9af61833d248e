package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/** The mount daemon's arguments read without picocli: as picocli reads them, or left to it. */
class PlainMountArgsTest {

    /** What picocli's model of the mount command sets from {@code args}. */
    private static String byPicocli(List<String> args) {
        MountCommand m = new MountCommand();
        new CommandLine(m).parseArgs(args.toArray(String[]::new));
        return fields(m);
    }

    private static String fields(MountCommand m) {
        return "detached=" + m.detached + " readOnly=" + m.readOnly + " foreground=" + m.foreground + " options="
                + m.options + " backend=" + m.deviceBackend + " image=" + m.image + " mountpoint=" + m.mountpoint;
    }

    @Test
    void launcherForms_readAsPicocliReadsThem() {
        List<List<String>> forms = List.of(
                List.of("--detached", "a.img", "/mnt/x"),
                List.of("--detached", "-o", "transport=native", "/var/tmp/a b.img", "mnt"),
                List.of("--detached", "--read-only", "-o", "ro,subvol=s", "-o", "metrics=9100", "a", "b"),
                List.of("-o", "raw_inodes", "--detached", "a", "-o", "io_uring", "b", "--device-backend", "aio"),
                List.of("-f", "--read-only", "img", "dir"),
                List.of("a", "b", "--foreground"),
                List.of("-o", "device=/dev/loop1", "-o", "device=/dev/loop2", "--detached", "x=y", "z"));
        for (List<String> args : forms) {
            MountCommand plain = PlainMountArgs.parse(args);
            assertNotNull(plain, args.toString());
            assertEquals(byPicocli(args), fields(plain), args.toString());
        }
    }

    @Test
    void otherForms_leftToPicocli() {
        List<List<String>> forms = List.of(
                List.of(), List.of("--detached"), List.of("--detached", "only-image"), List.of("a", "b", "c"),
                List.of("-o"), List.of("a", "b", "-o"), List.of("-oro", "a", "b"), List.of("-o=ro", "a", "b"),
                List.of("-o", "--read-only", "a", "b"), List.of("--", "a", "b"), List.of("@args", "b"),
                List.of("--bogus", "a", "b"), List.of("--help"), List.of("-h", "a", "b"), List.of("-V"),
                List.of("--read-only", "--read-only", "a", "b"), List.of("-f", "--foreground", "a", "b"),
                List.of("--device-backend", "nio", "--device-backend", "aio", "a", "b"),
                List.of("--device-backend=aio", "a", "b"), List.of("-", "b"), List.of("", "b"));
        for (List<String> args : forms) assertNull(PlainMountArgs.parse(args), args.toString());
    }
}
