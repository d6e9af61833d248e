package jbtrfs.fuse.kernel;

import java.io.File;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.kenai.jffi.MemoryIO;

import jnr.ffi.LastError;
import jnr.ffi.Runtime;

/**
 * Mounting and unmounting a FUSE filesystem without libfuse: as root, /dev/fuse opened and mount(2) called with its
 * fd; otherwise fusermount3 (or libfuse 2's fusermount) mounts and passes the /dev/fuse fd back over a socketpair
 * named by {@code _FUSE_COMMFD} (SCM_RIGHTS), as libfuse does.
 */
final class FuseMount {
    private static final Logger LOG = LoggerFactory.getLogger(FuseMount.class);
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private FuseMount() {
    }

    /** Mounts {@code spec}; returns the session's channel (the kernel sends INIT on it next). */
    static DevFuseChannel mount(FuseLibC libc, MountSpec spec) throws IOException {
        if (libc.getuid() == 0 && !spec.viaFusermount()) return mountDirect(libc, spec);
        return mountViaFusermount(libc, spec);
    }

    private static DevFuseChannel mountDirect(FuseLibC libc, MountSpec spec) throws IOException {
        int fd = libc.open("/dev/fuse", FuseLibC.O_RDWR | FuseLibC.O_CLOEXEC, 0);
        if (fd < 0) throw new IOException("cannot open /dev/fuse: " + lastError(libc));
        String data = spec.kernelData(fd, libc.getuid(), libc.getgid());
        String target = spec.mountpoint().toAbsolutePath().toString();
        if (libc.mount(spec.source(), target, "fuse." + spec.subtype(), spec.msFlags(), data) != 0) {
            String why = lastError(libc);
            libc.close(fd);
            throw new IOException("mount of " + target + " failed: " + why);
        }
        LOG.info("mounted {} at {} with mount(2) ({})", spec.source(), target, data);
        return new DevFuseChannel(libc, fd);
    }

    /** fusermount3, else fusermount (libfuse 2's: it speaks the same fd passing), or null. */
    static Path fusermount() {
        Path three = onPath("fusermount3");
        return three != null ? three : onPath("fusermount");
    }

    private static DevFuseChannel mountViaFusermount(FuseLibC libc, MountSpec spec) throws IOException {
        Path helper = fusermount();
        if (helper == null) throw new IOException("fusermount3 or fusermount not found: install fuse3 or fuse");
        int[] sv = new int[2];
        if (libc.socketpair(FuseLibC.AF_UNIX, FuseLibC.SOCK_STREAM, 0, sv) != 0) {
            throw new IOException("socketpair failed: " + lastError(libc));
        }
        boolean two = helper.getFileName().toString().equals("fusermount");
        String target = spec.mountpoint().toAbsolutePath().toString();
        // argv[0] the bare name: its complaints then read "fusermount: ...", which jbtrfs mount repeats
        List<String> argv = List.of(helper.getFileName().toString(), "-o", spec.fusermountOptions(two), "--", target);
        int pid;
        try {
            // sv[1] has no O_CLOEXEC, so the helper inherits it (a Java Process would close it)
            pid = spawn(libc, helper.toString(), argv, "_FUSE_COMMFD=" + sv[1]);
        } finally {
            libc.close(sv[1]);
        }
        int fd;
        try {
            fd = receiveFd(libc, sv[0]);
        } finally {
            libc.close(sv[0]);
        }
        int status = waitFor(libc, pid);
        if (fd < 0) {
            throw new IOException(helper.getFileName() + " did not mount " + target + " (exit " + status
                    + "; it said why just before)");
        }
        LOG.info("mounted {} at {} through {}", spec.source(), target, helper);
        return new DevFuseChannel(libc, fd);
    }

    /** posix_spawnp of {@code argv} with this process's environment and {@code extraEnv}; returns the pid. */
    private static int spawn(FuseLibC libc, String file, List<String> argv, String extraEnv) throws IOException {
        List<String> env = new ArrayList<>();
        for (Map.Entry<String, String> e : System.getenv().entrySet()) {
            if (!e.getKey().equals("_FUSE_COMMFD")) env.add(e.getKey() + "=" + e.getValue());
        }
        env.add(extraEnv);
        List<ByteBuffer> keep = new ArrayList<>();
        ByteBuffer pidOut = direct(8);
        int rc = libc.posix_spawnp(MEMORY.getDirectBufferAddress(pidOut), file, 0, 0, cStrings(argv, keep),
                cStrings(env, keep));
        Reference.reachabilityFence(keep);
        if (rc != 0) throw new IOException("cannot run " + file + ": " + libc.strerror(rc));
        return pidOut.getInt(0);
    }

    /** The helper's exit status (its exit code, or 128 + the signal that ended it). */
    private static int waitFor(FuseLibC libc, int pid) {
        ByteBuffer status = direct(8);
        while (libc.waitpid(pid, MEMORY.getDirectBufferAddress(status), 0) < 0) {
            if (LastError.getLastError(Runtime.getRuntime(libc)) != FuseAbi.EINTR) return -1;
        }
        int s = status.getInt(0);
        return (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
    }

    /** Receives one fd sent with SCM_RIGHTS on {@code socket}; -1 when the sender closed without one. */
    private static int receiveFd(FuseLibC libc, int socket) throws IOException {
        ByteBuffer data = direct(8);
        ByteBuffer iov = direct(16);
        iov.putLong(0, MEMORY.getDirectBufferAddress(data)).putLong(8, 1);
        ByteBuffer control = direct(24);            // CMSG_SPACE(sizeof(int)) on LP64
        ByteBuffer msg = direct(56);                // struct msghdr on LP64
        msg.putLong(16, MEMORY.getDirectBufferAddress(iov)).putLong(24, 1)
                .putLong(32, MEMORY.getDirectBufferAddress(control)).putLong(40, control.capacity());
        long n;
        while ((n = libc.recvmsg(socket, MEMORY.getDirectBufferAddress(msg), 0)) < 0) {
            if (LastError.getLastError(Runtime.getRuntime(libc)) != FuseAbi.EINTR) {
                throw new IOException("receiving the /dev/fuse fd failed: " + lastError(libc));
            }
        }
        Reference.reachabilityFence(data);
        Reference.reachabilityFence(iov);
        if (n == 0 || msg.getLong(40) < 20) return -1;
        if (control.getInt(8) != FuseLibC.SOL_SOCKET || control.getInt(12) != FuseLibC.SCM_RIGHTS) {
            throw new IOException("fusermount sent something other than a file descriptor");
        }
        return control.getInt(16);
    }

    /**
     * Unmounts lazily (MNT_DETACH as root, {@code fusermount -u -z} otherwise), as libfuse's session does; the
     * session's reads then fail with ENODEV once nothing uses the mount. Returns a reason when it failed, else null.
     */
    static String unmount(FuseLibC libc, Path mountpoint) {
        String target = mountpoint.toAbsolutePath().toString();
        if (libc.getuid() == 0 && libc.umount2(target, FuseLibC.MNT_DETACH) == 0) return null;
        Path helper = fusermount();
        if (helper == null) return "no fusermount to unmount " + target + " with";
        try {
            Process p = new ProcessBuilder(helper.toString(), "-u", "-z", target).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 ? null : out;
        } catch (IOException e) {
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** A NULL-terminated char*[]; the strings and the array stay in {@code keep}, which the caller holds. */
    private static long cStrings(List<String> strings, List<ByteBuffer> keep) {
        ByteBuffer array = direct(8 * (strings.size() + 1));
        keep.add(array);
        for (int i = 0; i < strings.size(); i++) {
            byte[] b = strings.get(i).getBytes(StandardCharsets.UTF_8);
            ByteBuffer s = ByteBuffer.allocateDirect(b.length + 1).put(b).put((byte) 0);
            keep.add(s);
            array.putLong(8 * i, MEMORY.getDirectBufferAddress(s));
        }
        array.putLong(8 * strings.size(), 0);
        return MEMORY.getDirectBufferAddress(array);
    }

    private static ByteBuffer direct(int size) {
        return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
    }

    private static String lastError(FuseLibC libc) {
        return libc.strerror(LastError.getLastError(Runtime.getRuntime(libc)));
    }

    private static Path onPath(String name) {
        String env = System.getenv("PATH");
        for (String dir : (env != null ? env : "/usr/bin:/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
