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
 */
public record MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend) {

    public MountOptions(boolean readOnly) {
        this(readOnly, null, 0, null);
    }

    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }

    public MountOptions withSubvol(String path) { return new MountOptions(readOnly, path, subvolid, deviceBackend); }

    public MountOptions withSubvolid(long id) { return new MountOptions(readOnly, subvol, id, deviceBackend); }

    public MountOptions withDeviceBackend(Backend b) { return new MountOptions(readOnly, subvol, subvolid, b); }
}
