package jbtrfs;

/** A name, inode or item that does not exist (ENOENT). */
public final class NotFoundException extends FsException {
    public NotFoundException(String message) { super(message); }
}
