package jbtrfs.fs;

import jbtrfs.device.Backend;

/**
 * How the filesystem is opened.
 *
 * @param readOnly never write to the image
 * @param subvol   path from the top level of the subvolume to show at the mountpoint (the kernel's subvol=), or null
 * @param subvolid id of the subvolume to show (the kernel's subvolid=), or 0; without either, the default subvolume
 * @param deviceBackend how the image is read; null for buffered positional reads (nio), whose page-cache readahead
 *                      serves FUSE's 128 KiB requests best
 * @param commitSeconds how often a read-write mount commits (the kernel's commit=, default 30; 0 never by time)
 */
public record MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend, int commitSeconds) {
    public static final int DEFAULT_COMMIT_SECONDS = 30;

    public MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend) {
        this(readOnly, subvol, subvolid, deviceBackend, DEFAULT_COMMIT_SECONDS);
    }

    public MountOptions(boolean readOnly) {
        this(readOnly, null, 0, null);
    }

    public static MountOptions readWriteDefaults() { return new MountOptions(false); }

    public MountOptions withCommitSeconds(int seconds) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, seconds);
    }

    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }

    public MountOptions withSubvol(String path) {
        return new MountOptions(readOnly, path, subvolid, deviceBackend, commitSeconds);
    }

    public MountOptions withSubvolid(long id) {
        return new MountOptions(readOnly, subvol, id, deviceBackend, commitSeconds);
    }

    public MountOptions withDeviceBackend(Backend b) {
        return new MountOptions(readOnly, subvol, subvolid, b, commitSeconds);
    }
}
