package jbtrfs;

/** No data (or hole) to seek to: lseek's SEEK_DATA/SEEK_HOLE at or past the end of the file (ENXIO). */
public final class NoSuchAddressException extends FsException {
    public NoSuchAddressException(String message) { super(message); }
}
