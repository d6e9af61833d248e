package jbtrfs.compress;

import jbtrfs.Errno;
import jbtrfs.FsException;

/** Compressed extent bytes that do not decode (EIO for the read, never garbage). */
public final class CorruptCompressedDataException extends FsException {
    public CorruptCompressedDataException(String message) { super(Errno.EIO, message); }

    public CorruptCompressedDataException(String message, Throwable cause) { super(Errno.EIO, message, cause); }
}
