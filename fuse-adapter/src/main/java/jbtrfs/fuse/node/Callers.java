package jbtrfs.fuse.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import jbtrfs.fs.Caller;
import jbtrfs.fuse.kernel.FuseRequest;

/**
 * What the daemon learns of the process behind a request through /proc: its supplementary groups, the file behind
 * one of its descriptors, and its memory, which an ioctl's trailing array must be written to because FUSE's
 * restricted ioctls carry only the struct that _IOC_SIZE names.
 */
final class Callers {
    /** capability(7) numbers. */
    static final int CAP_FOWNER = 3;
    static final int CAP_FSETID = 4;

    private Callers() {
    }

    /** The caller with its supplementary groups ("Groups:" of /proc/PID/status; none when it cannot be read). */
    static Caller of(FuseRequest r) {
        int[] groups = new int[0];
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(r.pid()), "status"))) {
                if (!line.startsWith("Groups:")) continue;
                groups = Arrays.stream(line.substring(7).trim().split("\\s+")).filter(s -> !s.isEmpty())
                        .mapToInt(Integer::parseInt).toArray();
            }
        } catch (IOException | NumberFormatException e) {
            // a process already gone: its own uid and gid still decide
        }
        return new Caller(r.uid(), r.gid(), groups);
    }

    /** The caller's fsgid and supplementary groups, as FsOperations.killSuidSgid takes them. */
    static int[] groups(FuseRequest r) {
        Caller c = of(r);
        int[] all = Arrays.copyOf(c.groups(), c.groups().length + 1);
        all[c.groups().length] = c.gid();
        return all;
    }

    /**
     * Whether the caller holds capability {@code cap} ("CapEff:" of /proc/PID/status): FUSE says who asks, not
     * what it may do. A process already gone holds none.
     */
    static boolean capable(FuseRequest r, int cap) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(r.pid()), "status"))) {
                if (!line.startsWith("CapEff:")) continue;
                return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << cap)) != 0;
            }
        } catch (IOException | NumberFormatException e) {
            // gone: no capability
        }
        return false;
    }

    /** /proc/PID/fd/FD of the caller: the file one of its descriptors is open on (EINVAL for no descriptor). */
    static Path fd(FuseRequest r, long fd) {
        if (fd < 0 || fd > Integer.MAX_VALUE) throw new ReplyError(ReplyError.EINVAL);
        return Path.of("/proc", Integer.toString(r.pid()), "fd", Long.toString(fd));
    }

    /**
     * The {@code n} bytes at the caller's address {@code address} (copy_from_user of what an _IOR ioctl reads
     * anyway, which FUSE does not send), or null when they cannot be read.
     */
    static ByteBuffer copyFromCaller(FuseRequest r, long address, int n) {
        if (address == 0) return null;
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.nativeOrder());
        try (FileChannel mem = FileChannel.open(Path.of("/proc", Integer.toString(r.pid()), "mem"),
                StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                if (mem.read(b, address + b.position()) < 0) return null;
            }
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
        return b.flip();
    }

    /**
     * Copies {@code data} to the caller's address {@code address} (copy_to_user for the part past the ioctl's
     * struct). EFAULT when the memory is not mapped or this daemon may not write it (another user's process).
     */
    static void copyToCaller(FuseRequest r, long address, ByteBuffer data) {
        if (address == 0) throw new ReplyError(ReplyError.EFAULT);
        try (FileChannel mem = FileChannel.open(Path.of("/proc", Integer.toString(r.pid()), "mem"),
                StandardOpenOption.WRITE)) {
            long at = address;
            while (data.hasRemaining()) at += mem.write(data, at);
        } catch (IOException | IllegalArgumentException e) {
            throw new ReplyError(ReplyError.EFAULT);
        }
    }
}
