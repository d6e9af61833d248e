package jbtrfs.compress;

import jbtrfs.FsException;

/** Compressed extent bytes that do not decode (EIO for the read, never garbage). */
public final class CorruptCompressedDataException extends FsException {
    public CorruptCompressedDataException(String message) { super(message); }

    public CorruptCompressedDataException(String message, Throwable cause) { super(message, cause); }
}
