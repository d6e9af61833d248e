package jbtrfs.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The processes that keep a mount busy, as fuser -m would name them: a cwd, root or open file under it. */
final class MountHolders {
    private MountHolders() {}

    static List<String> of(Path mountpoint) {
        String under = mountpoint.toAbsolutePath().normalize().toString();
        List<String> holders = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : (Iterable<Path>) procs::iterator) {
                String pid = proc.getFileName().toString();
                if (!pid.chars().allMatch(Character::isDigit)) continue;
                List<String> held = held(proc, under);
                if (!held.isEmpty()) holders.add(pid + " (" + comm(proc) + ") " + held);
            }
        } catch (IOException e) {
            holders.add("cannot list /proc: " + e.getMessage());
        }
        long self = ProcessHandle.current().pid();
        if (holders.stream().anyMatch(h -> h.startsWith(self + " "))) holders.add("the test's JVM holds it: a stream left open");
        return holders;
    }

    private static List<String> held(Path proc, String under) {
        List<String> held = new ArrayList<>();
        for (String link : List.of("cwd", "root")) {
            String target = target(proc.resolve(link));
            if (target != null && isUnder(target, under)) held.add(link + " " + target);
        }
        try (Stream<Path> fds = Files.list(proc.resolve("fd"))) {
            fds.forEach(fd -> {
                String target = target(fd);
                if (target != null && isUnder(target, under)) held.add("fd " + fd.getFileName() + " " + target);
            });
        } catch (IOException | SecurityException e) {
            // a process that exited meanwhile, or one we may not look into
        }
        return held;
    }

    private static boolean isUnder(String target, String under) {
        return target.equals(under) || target.startsWith(under + "/");
    }

    private static String target(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    private static String comm(Path proc) {
        try {
            return Files.readString(proc.resolve("comm")).strip();
        } catch (IOException e) {
            return "?";
        }
    }
}
