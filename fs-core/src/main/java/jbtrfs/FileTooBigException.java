package jbtrfs;

/** A size or offset past what a Btrfs file can hold (EFBIG). */
public final class FileTooBigException extends FsException {
    public FileTooBigException(String message) { super(message); }
}
