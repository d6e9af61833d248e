package jbtrfs;

/** A name over 255 bytes (ENAMETOOLONG). */
public final class NameTooLongException extends FsException {
    public NameTooLongException(String message) { super(message); }
}
