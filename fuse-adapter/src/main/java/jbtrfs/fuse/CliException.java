package jbtrfs.fuse;

/** A problem to tell the user in one line ("jbtrfs: ..."), with the exit code to leave with. */
final class CliException extends Exception {
    private final int exitCode;

    CliException(String message) {
        this(message, 1);
    }

    CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() { return exitCode; }
}
