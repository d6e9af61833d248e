package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;

/** FUSE_INIT: settles the protocol minor and the flags with the kernel and builds struct fuse_init_out. */
final class InitReply {
    private InitReply() {
    }

    /** The kernel speaks a protocol this transport cannot: INIT is answered with {@link #errno}. */
    static final class Refused extends Exception {
        final int errno;

        Refused(int errno, String message) {
            super(message, null, false, false);
            this.errno = errno;
        }
    }

    /**
     * Reads fuse_init_in from {@code in}, writes fuse_init_out into {@code out} from position 0 (its position ends
     * after it) and returns what was settled.
     */
    static FuseConnection negotiate(InArgs in, SessionOptions options, ByteBuffer out) throws Refused {
        int major = in.u32();
        int minor = in.u32();
        in.skip(4);                                                      // max_readahead: see below
        long flags = in.u32() & 0xFFFFFFFFL;
        if ((flags & FuseAbi.INIT_EXT) != 0 && in.remaining() >= 4) flags |= (in.u32() & 0xFFFFFFFFL) << 32;
        if (major != FuseAbi.KERNEL_VERSION) {
            throw new Refused(FuseAbi.EPROTO, "the kernel speaks FUSE " + major + "." + minor + ", not "
                    + FuseAbi.KERNEL_VERSION + ".x");
        }
        if (minor < FuseAbi.MIN_KERNEL_MINOR_VERSION) {
            throw new Refused(FuseAbi.EPROTO, "the kernel speaks FUSE 7." + minor + "; the native transport needs 7."
                    + FuseAbi.MIN_KERNEL_MINOR_VERSION + " (Linux 5.17): use -o transport=libfuse");
        }
        int spoken = Math.min(minor, FuseAbi.KERNEL_MINOR_VERSION);
        long granted = flags & options.wantedFlags();
        // ours, not the smaller of the two: the kernel offered its window as it was at the mount, before the caller
        // raised it (Readahead), and keeps the smaller of its window now and this one itself
        int readahead = Math.max(0, options.maxReadahead());
        int maxPages = (granted & FuseAbi.MAX_PAGES) != 0 ? SessionOptions.MAX_PAGES : 32;
        int maxWrite = Math.min(SessionOptions.MAX_WRITE, maxPages * 4096);
        int background = options.maxBackground();
        out.clear();
        out.putInt(FuseAbi.KERNEL_VERSION).putInt(spoken).putInt(readahead).putInt((int) granted)
                .putShort((short) background).putShort((short) (background * 3 / 4))
                .putInt(maxWrite).putInt(1)                                 // max_write, time_gran (ns)
                .putShort((short) maxPages).putShort((short) 0)             // max_pages, map_alignment
                .putInt((int) (granted >>> 32));                             // flags2
        while (out.position() < FuseAbi.INIT_OUT_SIZE) out.put((byte) 0);   // max_stack_depth, request_timeout
        return new FuseConnection(spoken, granted, maxWrite, maxPages);
    }
}
