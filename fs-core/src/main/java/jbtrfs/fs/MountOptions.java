package jbtrfs.fs;

/**
 * How the filesystem is opened.
 *
 * @param readOnly never write to the image
 * @param subvol   path from the top level of the subvolume to show at the mountpoint (the kernel's subvol=), or null
 * @param subvolid id of the subvolume to show (the kernel's subvolid=), or 0; without either, the default subvolume
 */
public record MountOptions(boolean readOnly, String subvol, long subvolid) {

    public MountOptions(boolean readOnly) {
        this(readOnly, null, 0);
    }

    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }

    public MountOptions withSubvol(String path) { return new MountOptions(readOnly, path, subvolid); }

    public MountOptions withSubvolid(long id) { return new MountOptions(readOnly, subvol, id); }
}
