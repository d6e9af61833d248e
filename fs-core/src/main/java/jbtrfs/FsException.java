package jbtrfs;

import java.io.IOException;

/** Base of every filesystem error; the FUSE adapter maps each subclass to one errno. */
public class FsException extends IOException {
    public FsException(String message) { super(message); }

    public FsException(String message, Throwable cause) { super(message, cause); }
}
