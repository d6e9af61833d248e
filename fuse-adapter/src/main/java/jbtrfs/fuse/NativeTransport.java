package jbtrfs.fuse;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.MeterRegistry;
import jbtrfs.fs.FsOperations;
import jbtrfs.fuse.kernel.FuseHandler;
import jbtrfs.fuse.kernel.KernelSession;
import jbtrfs.fuse.kernel.MountSpec;
import jbtrfs.fuse.kernel.SessionOptions;
import jbtrfs.fuse.node.NodeHandler;
import jbtrfs.fuse.node.NodeOptions;

/**
 * {@code -o transport=native}: the mount served over /dev/fuse by {@link KernelSession}, its requests answered by
 * the node layer. Turns the parsed {@code -o} options into the kernel's mount flags and the session's INIT wishes.
 */
final class NativeTransport {
    private static final Logger LOG = LoggerFactory.getLogger(NativeTransport.class);
    /** Requests the kernel keeps in flight in the background (readahead, writeback): libfuse's default is 12. */
    private static final int MAX_BACKGROUND = 64;

    private NativeTransport() {
    }

    /**
     * The handler serving {@code ops}: the node layer ({@code jbtrfs.fuse.node}), with the libfuse path's timeouts;
     * {@code rawInodes} shows the kernel's inode numbers (for comparisons) instead of numbers unique on the mount.
     */
    static FuseHandler handler(FsOperations ops, int blksize, boolean readOnly, boolean rawInodes,
                               MeterRegistry registry) {
        return new NodeHandler(ops, blksize, NodeOptions.forMount(readOnly, rawInodes), registry);
    }

    /**
     * Mounts at {@code mountpoint} and serves with {@code handler}; returns once the mount is in the mount table.
     * The readahead window is set before INIT is answered, so no file is opened before it.
     */
    static MountedSession mount(FuseHandler handler, Path image, Path mountpoint, MountOptionParser parsed,
                                boolean readOnly) throws IOException {
        boolean root = "root".equals(System.getProperty("user.name"));
        MountSpec spec = spec(parsed, image.toAbsolutePath().toString(), mountpoint, readOnly, root);
        // POSIX ACLs as the kernel's Btrfs has them by default: the kernel checks them, fs-core inherits and updates
        SessionOptions options = new SessionOptions(parsed.threads(), !readOnly && parsed.writebackCache(), true,
                parsed.readAheadKib() << 10, MAX_BACKGROUND, parsed.ioUring());
        KernelSession session = KernelSession.mount(spec, options);
        Readahead.apply(mountpoint, parsed.readAheadKib());
        session.serve(handler);
        if (handler instanceof NodeHandler nodes) nodes.mountedAt(mountpoint, image);
        return new MountedSession() {
            @Override
            public int await() throws InterruptedException {
                return session.await();
            }

            @Override
            public void unmount() {
                session.unmount();
            }
        };
    }

    /**
     * The kernel mount of an image: read-only or not, every user allowed when root mounts it (as today), the kernel
     * checking permissions, and as root {@code dev} and {@code suid} unless {@code nodev}/{@code nosuid} are given,
     * like a kernel mount (fusermount forces both for other users).
     */
    static MountSpec spec(MountOptionParser parsed, String imagePath, Path mountpoint, boolean readOnly,
                          boolean root) {
        long flags = readOnly ? MountSpec.MS_RDONLY : 0;
        boolean allowOther = root;
        List<String> ignored = new ArrayList<>();
        for (String o : parsed.passThrough()) {
            switch (o) {
                case "allow_other" -> allowOther = true;
                case "default_permissions", "nonempty" -> {
                    // always on; mount(2) mounts over files anyway
                }
                case "nosuid" -> flags |= MountSpec.MS_NOSUID;
                case "nodev" -> flags |= MountSpec.MS_NODEV;
                case "noexec" -> flags |= MountSpec.MS_NOEXEC;
                case "noatime" -> flags |= MountSpec.MS_NOATIME;
                case "nodiratime" -> flags |= MountSpec.MS_NODIRATIME;
                case "relatime" -> flags |= MountSpec.MS_RELATIME;
                case "strictatime" -> flags |= MountSpec.MS_STRICTATIME;
                case "lazytime" -> flags |= MountSpec.MS_LAZYTIME;
                case "sync" -> flags |= MountSpec.MS_SYNCHRONOUS;
                case "dirsync" -> flags |= MountSpec.MS_DIRSYNC;
                case "suid" -> flags &= ~MountSpec.MS_NOSUID;
                case "dev" -> flags &= ~MountSpec.MS_NODEV;
                case "exec" -> flags &= ~MountSpec.MS_NOEXEC;
                case "atime", "async" -> {
                    // the defaults
                }
                default -> ignored.add(o);
            }
        }
        if (!ignored.isEmpty()) LOG.info("options for libfuse only, not used by transport=native: {}", ignored);
        return new MountSpec(mountpoint, imagePath, "jbtrfs", flags, allowOther, true, FuseSession.MAX_DATA, false);
    }
}
