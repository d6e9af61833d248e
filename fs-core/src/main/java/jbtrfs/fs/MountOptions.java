package jbtrfs.fs;

/**
 * How the filesystem is opened.
 *
 * @param readOnly never write to the image
 */
public record MountOptions(boolean readOnly) {
    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }
}
