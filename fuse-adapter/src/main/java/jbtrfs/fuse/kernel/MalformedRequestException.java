package jbtrfs.fuse.kernel;

/** A request whose lengths do not hold together: answered EINVAL, never trusted further. */
public final class MalformedRequestException extends RuntimeException {
    public MalformedRequestException(String message) {
        super(message, null, false, false);
    }
}
