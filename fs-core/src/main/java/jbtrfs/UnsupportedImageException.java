package jbtrfs;

/** An image this build refuses to mount (not Btrfs, bad superblocks, an unknown incompat feature, ...). */
public final class UnsupportedImageException extends FsException {
    public UnsupportedImageException(String message) { super(message); }
}
