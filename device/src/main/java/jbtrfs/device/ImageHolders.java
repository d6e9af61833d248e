package jbtrfs.device;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Who else has an image: flock holders (/proc/locks), loop devices backed by it (/sys/block/loop*), mounts of it
 * (/proc/self/mountinfo). Everything is matched by file identity, never by how a path is spelled, and each finding
 * becomes the one line a refused mount prints.
 */
final class ImageHolders {
    private static final Path PROC_LOCKS = Path.of("/proc/locks");
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");
    private static final Path SYS_BLOCK = Path.of("/sys/block");
    /** sizeof(struct loop_info64); lo_device (u64) at 0, lo_inode (u64) at 8. */
    private static final int LOOP_INFO64_SIZE = 232;

    private ImageHolders() {
    }

    /**
     * A file's identity: the device it lives on (major, minor), its inode, and for a block device node the device
     * it stands for (rdev, 0 otherwise), so that two nodes of one disk match too.
     */
    record Identity(long major, long minor, long ino, long rdev) {
        static Identity of(Path path) throws IOException {
            long dev = (Long) Files.getAttribute(path, "unix:dev");
            long ino = (Long) Files.getAttribute(path, "unix:ino");
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            long rdev = (mode & 0170000) == 0060000 ? (Long) Files.getAttribute(path, "unix:rdev") : 0;
            return new Identity(devMajor(dev), devMinor(dev), ino, rdev);
        }

        boolean blockDevice() { return rdev != 0; }

        boolean sameFile(Identity o) {
            return (major == o.major && minor == o.minor && ino == o.ino) || (rdev != 0 && rdev == o.rdev);
        }

        /** major:minor of the device a block device node stands for (its /sys/dev/block name). */
        String rdevName() { return devMajor(rdev) + ":" + devMinor(rdev); }
    }

    /** dev_t as glibc's makedev and the kernel's new_encode_dev (LOOP_GET_STATUS64's lo_device) both lay it out. */
    static long devMajor(long dev) { return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL); }

    static long devMinor(long dev) { return (dev & 0xff) | ((dev >>> 12) & ~0xffL); }

    /** One line of /proc/self/mountinfo that matters here. */
    record Mount(String source, String mountpoint, String type, boolean readOnly) {
    }

    /**
     * A loop device backed by the image, whether it is read-only, whether it detaches itself at its last close
     * (autoclear: `mount -o loop` sets it), and where the kernel mounts it.
     */
    record Loop(String device, boolean readOnly, boolean autoclear, List<Mount> mounts) {
        /** Whether the image may change under a reader: a writable loop device or a read-write mount of it. */
        boolean writes() { return !readOnly || mounts.stream().anyMatch(m -> !m.readOnly()); }

        /**
         * Whether it looks on its way out: autoclear and mounted nowhere, as a kernel loop mount is for a moment
         * after its umount returns (the device detaches once its last opener has let go).
         */
        boolean releasing() { return autoclear && mounts.isEmpty(); }

        /** "image is attached to /dev/loop3 (mounted at /mnt/x by the kernel)", and the like. */
        String describe() {
            String where = mounts.isEmpty() ? "not mounted"
                    : "mounted at " + mounts.stream().map(Mount::mountpoint).collect(Collectors.joining(", "))
                    + " by the kernel";
            return "image is attached to " + device + " (" + (readOnly ? "read-only, " : "") + where + ")";
        }
    }

    /** One flock on the image, from /proc/locks: the pid that took it and whether it is exclusive. */
    record Holder(long pid, boolean write) {
    }

    /** The flocks held on the file {@code id} (waiters, "->", are not holders). */
    static List<Holder> flockHolders(Identity id) {
        List<Holder> out = new ArrayList<>();
        for (String line : lines(PROC_LOCKS)) {
            // "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2147436 0 EOF": device in hex, inode in decimal
            String[] f = line.trim().split("\\s+");
            if (f.length < 6 || !f[1].equals("FLOCK")) continue;
            String[] dev = f[5].split(":");
            try {
                if (dev.length == 3 && Long.parseLong(dev[0], 16) == id.major()
                        && Long.parseLong(dev[1], 16) == id.minor() && Long.parseLong(dev[2]) == id.ino()) {
                    out.add(new Holder(Long.parseLong(f[4]), f[3].equals("WRITE")));
                }
            } catch (NumberFormatException e) {
                // a line in a format this does not know names no holder it could report
            }
        }
        return out;
    }

    /**
     * Whether every flock on the image belongs to a jbtrfs mount daemon of another process while no FUSE mount of
     * the image is left: a daemon whose unmount is done, committing on its way out (or one starting, mounted a
     * moment later, when the answer turns). No holder at all: it has just let go.
     */
    static boolean onlyLeavingDaemons(Path image, Identity id) {
        long self = ProcessHandle.current().pid();
        for (Holder h : flockHolders(id)) {
            if (h.pid() == self || !mountDaemon(h.pid())) return false;
        }
        return mountsOf(image, id).stream().noneMatch(m -> m.type().startsWith("fuse"));
    }

    /** A jbtrfs daemon, by its command line: bin/jbtrfs starts it as "... jbtrfs.jar mount --detached" (or -f). */
    private static boolean mountDaemon(long pid) {
        try {
            String cmdline = Files.readString(Path.of("/proc/" + pid + "/cmdline"), StandardCharsets.UTF_8);
            return cmdline.contains("jbtrfs") && (cmdline.contains("\0mount\0--detached\0")
                    || cmdline.contains("\0mount\0-f\0"));
        } catch (NoSuchFileException e) {
            return true; // gone meanwhile: the next try takes the lock
        } catch (IOException e) {
            return false;
        }
    }

    /** The line for a flock that another open holds: the pids from /proc/locks, the FUSE mount from mountinfo. */
    static String describeLockHolders(Path image, Identity id) {
        List<Holder> holders = flockHolders(id);
        if (holders.isEmpty()) return "image is in use: locked by a process that has just let go (try again)";
        Set<Long> pids = new LinkedHashSet<>();
        holders.forEach(h -> pids.add(h.pid()));
        String mode = holders.stream().anyMatch(Holder::write) ? "read-write" : "read-only";
        String who = (pids.size() == 1 ? "pid " : "pids ") + pids.stream().map(String::valueOf)
                .collect(Collectors.joining(", "));
        List<Mount> fuse = mountsOf(image, id).stream().filter(m -> m.type().startsWith("fuse")).toList();
        if (fuse.isEmpty()) {
            // not (yet) a FUSE mount of it: the holding program's name says more than a pid alone
            String comm = pids.size() == 1 ? " (" + firstLine(Path.of("/proc/" + pids.iterator().next() + "/comm")) + ")"
                    : "";
            return "image is in use: locked " + mode + " by " + who + comm;
        }
        String program = fuse.get(0).type().startsWith("fuse.") ? fuse.get(0).type().substring(5) + " " : "";
        return "image is in use: mounted " + mode + " by " + program + who + " at "
                + fuse.stream().map(Mount::mountpoint).collect(Collectors.joining(", "));
    }

    /** The line for a block device that an O_EXCL open found busy: a kernel mount, a stacked device, or unknown. */
    static String describeExclusiveHolder(Path device, Identity id) {
        if (!flockHolders(id).isEmpty()) return describeLockHolders(device, id);
        List<Mount> mounts = kernelMountsOf(device, id);
        if (!mounts.isEmpty()) return describeKernelMounts(mounts);
        List<String> stacked = stackedHolders(id);
        if (!stacked.isEmpty()) return "image is in use: held by " + String.join(", ", stacked);
        return "image is in use: another program opened it exclusively (EBUSY)";
    }

    /** "image is in use: mounted at /mnt/x by the kernel (read-only)". */
    static String describeKernelMounts(List<Mount> mounts) {
        boolean ro = mounts.stream().allMatch(Mount::readOnly);
        return "image is in use: mounted at " + mounts.stream().map(Mount::mountpoint).collect(Collectors.joining(", "))
                + " by the kernel" + (ro ? " (read-only)" : "");
    }

    /** Devices stacked on a block device (device mapper, md): /sys/dev/block/MAJ:MIN/holders. */
    private static List<String> stackedHolders(Identity id) {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/sys/dev/block", id.rdevName(), "holders"))) {
            for (Path p : ds) out.add(p.getFileName().toString());
        } catch (IOException e) {
            // no holders directory: nothing stacked that sysfs can name
        }
        return out;
    }

    /** Mounts whose source is {@code image} (a FUSE mount's fsname, a kernel mount's device), by identity. */
    static List<Mount> mountsOf(Path image, Identity id) {
        List<Mount> out = new ArrayList<>();
        String spelled = image.toAbsolutePath().normalize().toString();
        for (String line : lines(MOUNTINFO)) {
            // id parent major:minor root mountpoint options [optional fields] - type source superoptions
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (dash < 5 || dash + 3 >= f.length) continue;
            String source = unescape(f[dash + 2]);
            if (!source.startsWith("/")) continue;
            if (!source.equals(spelled) && !sameFile(source, id)) continue;
            boolean ro = f[dash + 3].startsWith("ro,") || f[dash + 3].equals("ro");
            out.add(new Mount(source, unescape(f[4]), f[dash + 1], ro));
        }
        return out;
    }

    /** {@link #mountsOf} without FUSE mounts: the kernel's own filesystems on a block device. */
    static List<Mount> kernelMountsOf(Path device, Identity id) {
        return mountsOf(device, id).stream().filter(m -> !m.type().startsWith("fuse")).toList();
    }

    /**
     * Loop devices whose backing file is the image. The identity comes from LOOP_GET_STATUS64 (lo_device, lo_inode:
     * the open backing file itself, whatever became of its path); sysfs's backing_file path, stat'ed, is the fallback
     * where /dev/loopN cannot be opened (no device node, no permission): that path can be stale (renamed, deleted)
     * or outside this mount namespace, so it is only second best.
     */
    static List<Loop> loopsBackedBy(LibC libc, Identity image) {
        List<Loop> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(SYS_BLOCK, "loop*")) {
            for (Path dir : ds) {
                Path backing = dir.resolve("loop/backing_file");
                if (!Files.exists(backing)) continue; // not attached
                String name = dir.getFileName().toString();
                Path node = Path.of("/dev", name);
                Identity backingId = backingIdentity(libc, node);
                if (backingId == null) backingId = statOrNull(firstLine(backing));
                if (backingId == null || !backingId.sameFile(image)) continue;
                boolean ro = "1".equals(firstLine(dir.resolve("ro")));
                boolean autoclear = "1".equals(firstLine(dir.resolve("loop/autoclear")));
                Identity nodeId = statOrNull(node.toString());
                out.add(new Loop(node.toString(), ro, autoclear,
                        nodeId == null ? List.of() : kernelMountsOf(node, nodeId)));
            }
        } catch (IOException e) {
            // no /sys/block: no loop devices to find
        }
        return out;
    }

    private static Identity backingIdentity(LibC libc, Path loopNode) {
        if (libc == null) return null;
        int fd = libc.open(loopNode.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0) return null;
        long info = NativeMemory.allocate(LOOP_INFO64_SIZE);
        try {
            if (libc.ioctl(fd, LibC.LOOP_GET_STATUS64, info) != 0) return null; // detached meanwhile (ENXIO)
            long dev = NativeMemory.getLong(info);
            return new Identity(devMajor(dev), devMinor(dev), NativeMemory.getLong(info + 8), 0);
        } finally {
            NativeMemory.free(info, LOOP_INFO64_SIZE);
            libc.close(fd);
        }
    }

    private static boolean sameFile(String path, Identity id) {
        Identity other = statOrNull(path);
        return other != null && other.sameFile(id);
    }

    private static Identity statOrNull(String path) {
        if (path == null || path.isEmpty()) return null;
        try {
            return Identity.of(Path.of(path));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String firstLine(Path file) {
        List<String> l = lines(file);
        return l.isEmpty() ? "" : l.get(0).trim();
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
