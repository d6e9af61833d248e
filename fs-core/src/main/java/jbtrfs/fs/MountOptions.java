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
 * @param spaceCache    the kernel's space_cache=v1|v2 / nospace_cache; null: what the image has
 * @param clearCache    the kernel's clear_cache: distrust every v1 space cache and write new ones
 * @param serialWriteout write the v1 space caches one block group at a time (submit, wait, next), for comparison
 *                       with the default two-stage writeout (-o writeout=serial)
 */
public record MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend, int commitSeconds,
                           SpaceCache spaceCache, boolean clearCache, boolean serialWriteout) {
    public static final int DEFAULT_COMMIT_SECONDS = 30;

    /** How free space is kept on disk. */
    public enum SpaceCache { V1, V2, NONE }

    public MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend) {
        this(readOnly, subvol, subvolid, deviceBackend, DEFAULT_COMMIT_SECONDS, null, false, false);
    }

    public MountOptions(boolean readOnly) {
        this(readOnly, null, 0, null);
    }

    public static MountOptions readWriteDefaults() { return new MountOptions(false); }

    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }

    public MountOptions withCommitSeconds(int seconds) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, seconds, spaceCache, clearCache,
                serialWriteout);
    }

    public MountOptions withSubvol(String path) {
        return new MountOptions(readOnly, path, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                serialWriteout);
    }

    public MountOptions withSubvolid(long id) {
        return new MountOptions(readOnly, subvol, id, deviceBackend, commitSeconds, spaceCache, clearCache,
                serialWriteout);
    }

    public MountOptions withDeviceBackend(Backend b) {
        return new MountOptions(readOnly, subvol, subvolid, b, commitSeconds, spaceCache, clearCache, serialWriteout);
    }

    public MountOptions withSpaceCache(SpaceCache mode, boolean clear) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, mode, clear,
                serialWriteout);
    }

    public MountOptions withSerialWriteout(boolean serial) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                serial);
    }
}
