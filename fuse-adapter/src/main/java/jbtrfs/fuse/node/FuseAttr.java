package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.time.Duration;

import jbtrfs.format.Timespec;
import jbtrfs.fs.InodeFlags;
import jbtrfs.fs.Stat;

/**
 * The attribute structs of include/uapi/linux/fuse.h, written in place into a native-order reply buffer:
 * fuse_attr (88 bytes), fuse_entry_out (128), fuse_attr_out (104), fuse_statx_out (288). Times to the nanosecond,
 * as StatFiller gives them to libfuse.
 */
final class FuseAttr {
    static final int ATTR_SIZE = 88;
    static final int ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
    static final int ATTR_OUT_SIZE = 16 + ATTR_SIZE;
    static final int STATX_SIZE = 256;
    static final int STATX_OUT_SIZE = 32 + STATX_SIZE;
    /** statx(2) masks and attributes (include/uapi/linux/stat.h). */
    static final int STATX_BASIC_STATS = 0x7ff;
    static final int STATX_BTIME = 0x800;
    /** The attributes btrfs_getattr reports (compressed, immutable, append, nodump), all of them always known. */
    static final long STATX_ATTRIBUTES_MASK = InodeFlags.FS_COMPR_FL | InodeFlags.FS_IMMUTABLE_FL
            | InodeFlags.FS_APPEND_FL | InodeFlags.FS_NODUMP_FL;

    private FuseAttr() {
    }

    /** struct fuse_attr. */
    static void putAttr(ByteBuffer b, Stat s, long ino, int blksize) {
        b.putLong(ino).putLong(s.size()).putLong(s.blocks());
        b.putLong(s.atime().sec()).putLong(s.mtime().sec()).putLong(s.ctime().sec());
        b.putInt(s.atime().nsec()).putInt(s.mtime().nsec()).putInt(s.ctime().nsec());
        b.putInt(s.mode()).putInt((int) Math.min(s.nlink(), 0xffffffffL)).putInt(s.uid()).putInt(s.gid());
        b.putInt((int) s.rdev()).putInt(blksize).putInt(0);
    }

    /** struct fuse_entry_out of a node. */
    static void putEntry(ByteBuffer b, long nodeId, Stat s, long ino, int blksize, NodeOptions o) {
        b.putLong(nodeId).putLong(s.generation());
        b.putLong(o.entryTimeout().getSeconds()).putLong(o.attrTimeout().getSeconds());
        b.putInt(o.entryTimeout().getNano()).putInt(o.attrTimeout().getNano());
        putAttr(b, s, ino, blksize);
    }

    /** struct fuse_entry_out of node id 0: a "no such name" the kernel keeps for {@code valid}. */
    static void putNegativeEntry(ByteBuffer b, Duration valid) {
        b.putLong(0).putLong(0).putLong(valid.getSeconds()).putLong(0).putInt(valid.getNano()).putInt(0);
        for (int i = 0; i < ATTR_SIZE; i += 8) b.putLong(0);
    }

    /** A fuse_entry_out of node id 0 with no timeouts: in a READDIRPLUS reply, an entry that hands over nothing. */
    static void putEmptyEntry(ByteBuffer b) {
        for (int i = 0; i < ENTRY_OUT_SIZE; i += 8) b.putLong(0);
    }

    /** struct fuse_attr_out. */
    static void putAttrOut(ByteBuffer b, Stat s, long ino, int blksize, Duration valid) {
        b.putLong(valid.getSeconds()).putInt(valid.getNano()).putInt(0);
        putAttr(b, s, ino, blksize);
    }

    /** struct fuse_statx_out: the basic fields, btime (the inode's otime) and the attributes btrfs_getattr shows. */
    static void putStatxOut(ByteBuffer b, Stat s, long ino, int blksize, Duration valid) {
        b.putLong(valid.getSeconds()).putInt(valid.getNano()).putInt(0).putLong(0).putLong(0);
        b.putInt(STATX_BASIC_STATS | STATX_BTIME).putInt(blksize).putLong(statxAttributes(s.flags()));
        b.putInt((int) Math.min(s.nlink(), 0xffffffffL)).putInt(s.uid()).putInt(s.gid());
        b.putShort((short) s.mode()).putShort((short) 0);
        b.putLong(ino).putLong(s.size()).putLong(s.blocks()).putLong(STATX_ATTRIBUTES_MASK);
        putTime(b, s.atime());
        putTime(b, s.otime());
        putTime(b, s.ctime());
        putTime(b, s.mtime());
        // rdev in new_encode_dev form: minor in bits 0-7 and 20-31, major in bits 8-19
        long rdev = s.rdev();
        b.putInt((int) ((rdev & 0xfff00) >>> 8)).putInt((int) ((rdev & 0xff) | ((rdev >>> 12) & 0xfff00)));
        b.putInt(0).putInt(0);
        b.position(b.position() + 14 * 8);
    }

    /**
     * The statx attributes of an inode item's flags, as btrfs_getattr sets them: STATX_ATTR_* share their values
     * with the FS_*_FL flags chattr shows.
     */
    static long statxAttributes(long inodeFlags) {
        return InodeFlags.toFsFlags(inodeFlags) & STATX_ATTRIBUTES_MASK;
    }

    /** struct fuse_sx_time. */
    private static void putTime(ByteBuffer b, Timespec t) {
        b.putLong(t.sec()).putInt(t.nsec()).putInt(0);
    }
}
