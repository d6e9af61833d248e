package jbtrfs.fuse;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The argument forms bin/jbtrfs hands a mount daemon ({@code --detached}, {@code --read-only}, {@code -f},
 * {@code -o OPTS}, {@code --device-backend NAME}, IMAGE, MOUNTPOINT), read without picocli: its model of the mount
 * command (annotations read through reflection, their proxies spun, converters registered) was a third of a mount's
 * CPU before INIT. Anything else (help, {@code -oOPTS}, {@code --}, {@code @file}, an unknown option, a missing value,
 * an option other than {@code -o} given twice) is left to picocli, whose reading, messages and usage are the command
 * line's.
 */
final class PlainMountArgs {
    private PlainMountArgs() {
    }

    /** {@code args} (after "mount") as picocli would set them on a mount command, or null when not a plain form. */
    static MountCommand parse(List<String> args) {
        MountCommand m = new MountCommand();
        int positional = 0;
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            // picocli refuses a single-valued option twice ("should be specified only once"); -f is --foreground
            if (a.startsWith("-") && !a.equals("-o") && !seen.add(a.equals("-f") ? "--foreground" : a)) return null;
            switch (a) {
                case "--detached" -> m.detached = true;
                case "--read-only" -> m.readOnly = true;
                case "-f", "--foreground" -> m.foreground = true;
                case "-o", "--device-backend" -> {
                    if (i + 1 == args.size() || !plain(args.get(i + 1))) return null;
                    String value = args.get(++i);
                    if (a.equals("-o")) m.options.add(value);
                    else m.deviceBackend = value;
                }
                default -> {
                    if (!plain(a) || positional == 2) return null;
                    if (positional++ == 0) m.image = Path.of(a);
                    else m.mountpoint = Path.of(a);
                }
            }
        }
        return positional == 2 ? m : null;
    }

    /** An argument picocli takes as it stands: no option ("-..."), no @file to expand, not empty. */
    private static boolean plain(String a) {
        return !a.isEmpty() && !a.startsWith("-") && !a.startsWith("@");
    }
}
