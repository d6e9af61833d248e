package jbtrfs;

/** A rename or link across subvolumes, which Btrfs refuses as the kernel does (EXDEV). */
public final class CrossDeviceException extends FsException {
    public CrossDeviceException(String message) { super(message); }
}
