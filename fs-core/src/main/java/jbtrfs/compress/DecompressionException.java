package jbtrfs.compress;

import jbtrfs.FsException;

/** Compressed extent data that cannot be decompressed to the expected bytes (EIO). */
public final class DecompressionException extends FsException {
    public DecompressionException(String message) { super(message); }

    public DecompressionException(String message, Throwable cause) { super(message, cause); }
}
