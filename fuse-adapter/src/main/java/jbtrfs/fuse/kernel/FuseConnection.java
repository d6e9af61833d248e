package jbtrfs.fuse.kernel;

/**
 * What INIT settled with the kernel.
 *
 * @param minor    the protocol minor version both sides speak (the smaller of the two)
 * @param flags    the INIT flags granted, the high 32 bits from flags2 (FUSE_INIT_EXT)
 * @param maxWrite the largest WRITE payload the kernel will send
 * @param maxPages the most pages one request carries
 */
public record FuseConnection(int minor, long flags, int maxWrite, int maxPages) {
    public boolean granted(long flag) {
        return (flags & flag) != 0;
    }
}
