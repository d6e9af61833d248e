package jbtrfs.device;

import java.util.Locale;

/** Which I/O engine a {@link BlockDevice} uses; {@code --device-backend aio|nio} picks one. */
public enum Backend {
    /** The fastest that works on this host: Linux native AIO, else NIO. */
    AUTO,
    /** Linux native AIO (libaio.so.1 through jnr-ffi), O_DIRECT where the filesystem allows it. */
    AIO,
    /** Portable positional FileChannel I/O on a small thread pool. */
    NIO;

    /** Parses a command-line name (aio, nio, auto). */
    public static Backend parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown device backend '" + name + "' (expected aio, nio or auto)");
        }
    }

    /** The name used on the command line and in metrics. */
    public String cliName() { return name().toLowerCase(Locale.ROOT); }
}
