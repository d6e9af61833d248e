package jbtrfs;

/** A tree block or item that fails its checks; says where (root, bytenr, slot). EIO, as the kernel's read. */
public final class CorruptBlockException extends FsException {
    private final long root;
    private final long bytenr;
    private final int slot;

    public CorruptBlockException(long root, long bytenr, int slot, String problem) {
        super(Errno.EIO, "corrupt tree block " + bytenr + " (root " + root + (slot >= 0 ? ", slot " + slot : "") + "): " + problem);
        this.root = root;
        this.bytenr = bytenr;
        this.slot = slot;
    }

    public long root() { return root; }

    public long bytenr() { return bytenr; }

    public int slot() { return slot; }
}
