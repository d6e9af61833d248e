package jbtrfs.fuse.kernel;

import java.nio.file.Path;

/**
 * What a native mount asks of the kernel.
 *
 * @param mountpoint         where to mount
 * @param source             the mount's source as mountinfo shows it (the image path: fsname)
 * @param subtype            the type after "fuse." in mountinfo
 * @param msFlags            mount(2) flags: MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NOATIME, ...
 * @param allowOther         every user may use the mount, not only its owner
 * @param defaultPermissions the kernel checks permissions from the mode bits
 * @param maxRead            the largest READ the kernel sends
 * @param viaFusermount      mount through fusermount even as root (a test of the unprivileged path)
 */
public record MountSpec(Path mountpoint, String source, String subtype, long msFlags, boolean allowOther,
                        boolean defaultPermissions, int maxRead, boolean viaFusermount) {
    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOEXEC = 8;
    public static final long MS_SYNCHRONOUS = 16;
    public static final long MS_DIRSYNC = 128;
    public static final long MS_NOATIME = 1024;
    public static final long MS_NODIRATIME = 2048;
    public static final long MS_RELATIME = 1L << 21;
    public static final long MS_STRICTATIME = 1L << 24;
    public static final long MS_LAZYTIME = 1L << 25;

    public MountSpec withViaFusermount(boolean on) {
        return new MountSpec(mountpoint, source, subtype, msFlags, allowOther, defaultPermissions, maxRead, on);
    }

    boolean readOnly() {
        return (msFlags & MS_RDONLY) != 0;
    }

    /** The fs-specific mount data the kernel's FUSE parses (fuse_parse_param). */
    String kernelData(int fd, int uid, int gid) {
        StringBuilder s = new StringBuilder("fd=").append(fd).append(",rootmode=40000,user_id=").append(uid)
                .append(",group_id=").append(gid);
        if (allowOther) s.append(",allow_other");
        if (defaultPermissions) s.append(",default_permissions");
        return s.append(",max_read=").append(maxRead).toString();
    }

    /** The -o string fusermount takes: it adds fd, rootmode, user_id and group_id itself. */
    String fusermountOptions(boolean fusermount2) {
        StringBuilder s = new StringBuilder(readOnly() ? "ro" : "rw");
        if ((msFlags & MS_NOSUID) != 0) s.append(",nosuid");
        if ((msFlags & MS_NODEV) != 0) s.append(",nodev");
        if ((msFlags & MS_NOEXEC) != 0) s.append(",noexec");
        if ((msFlags & MS_NOATIME) != 0) s.append(",noatime");
        if ((msFlags & MS_SYNCHRONOUS) != 0) s.append(",sync");
        if ((msFlags & MS_DIRSYNC) != 0) s.append(",dirsync");
        if (allowOther) s.append(",allow_other");
        if (defaultPermissions) s.append(",default_permissions");
        // libfuse 2's fusermount refuses a mountpoint with files in it unless told, as mount(8) does not
        if (fusermount2) s.append(",nonempty");
        return s.append(",max_read=").append(maxRead).append(",subtype=").append(subtype).append(",fsname=")
                .append(source.replace("\\", "\\\\").replace(",", "\\,")).toString();
    }
}
