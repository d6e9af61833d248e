package jbtrfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * btrfs_inode_item (160 bytes): generation 0, transid 8, size 16, nbytes 24, block_group 32, nlink u32 40,
 * uid u32 44, gid u32 48, mode u32 52, rdev 56, flags 64, sequence 72, reserved 80..111, then four 12-byte
 * timespecs (sec u64, nsec u32): atime 112, ctime 124, mtime 136, otime 148.
 */
public record InodeItem(long generation, long transid, long size, long nbytes, long blockGroup, long nlink,
                        long uid, long gid, int mode, long rdev, long flags, long sequence,
                        Timespec atime, Timespec ctime, Timespec mtime, Timespec otime) {
    public static final int SIZE = 160;
    public static final int OFFSET_ATIME = 112;
    public static final int OFFSET_CTIME = 124;
    public static final int OFFSET_MTIME = 136;
    public static final int OFFSET_OTIME = 148;

    /** Inode flags (BTRFS_INODE_*). */
    public static final long FLAG_NODATASUM = 1L;
    public static final long FLAG_NODATACOW = 1L << 1;
    public static final long FLAG_READONLY = 1L << 2;
    public static final long FLAG_NOCOMPRESS = 1L << 3;
    public static final long FLAG_PREALLOC = 1L << 4;
    /** chattr +c: compress this file's writes even without a compress mount option. */
    public static final long FLAG_COMPRESS = 1L << 11;

    /** Reads an inode item at {@code offset}. */
    public static InodeItem read(ByteBuffer b, int offset) {
        return new InodeItem(b.getLong(offset), b.getLong(offset + 8), b.getLong(offset + 16), b.getLong(offset + 24),
                b.getLong(offset + 32), Integer.toUnsignedLong(b.getInt(offset + 40)),
                Integer.toUnsignedLong(b.getInt(offset + 44)), Integer.toUnsignedLong(b.getInt(offset + 48)),
                b.getInt(offset + 52), b.getLong(offset + 56), b.getLong(offset + 64), b.getLong(offset + 72),
                Timespec.read(b, offset + OFFSET_ATIME), Timespec.read(b, offset + OFFSET_CTIME),
                Timespec.read(b, offset + OFFSET_MTIME), Timespec.read(b, offset + OFFSET_OTIME));
    }

    /** Encodes this inode item into its 160 bytes (the reserved bytes zero). */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        write(b, 0);
        return b.array();
    }

    /** Writes this inode item at {@code offset} of a little-endian buffer. */
    public void write(ByteBuffer b, int offset) {
        b.putLong(offset, generation).putLong(offset + 8, transid).putLong(offset + 16, size)
                .putLong(offset + 24, nbytes).putLong(offset + 32, blockGroup).putInt(offset + 40, (int) nlink)
                .putInt(offset + 44, (int) uid).putInt(offset + 48, (int) gid).putInt(offset + 52, mode)
                .putLong(offset + 56, rdev).putLong(offset + 64, flags).putLong(offset + 72, sequence);
        atime.write(b, offset + OFFSET_ATIME);
        ctime.write(b, offset + OFFSET_CTIME);
        mtime.write(b, offset + OFFSET_MTIME);
        otime.write(b, offset + OFFSET_OTIME);
    }

    public InodeItem withSize(long newSize) { return with(c -> c.size = newSize); }

    public InodeItem withNbytes(long newNbytes) { return with(c -> c.nbytes = newNbytes); }

    public InodeItem withNlink(long newNlink) { return with(c -> c.nlink = newNlink); }

    public InodeItem withOwner(long newUid, long newGid) {
        return with(c -> {
            c.uid = newUid;
            c.gid = newGid;
        });
    }

    public InodeItem withMode(int newMode) { return with(c -> c.mode = newMode); }

    public InodeItem withFlags(long newFlags) { return with(c -> c.flags = newFlags); }

    public InodeItem withTimes(Timespec newAtime, Timespec newCtime, Timespec newMtime) {
        return with(c -> {
            c.atime = newAtime;
            c.ctime = newCtime;
            c.mtime = newMtime;
        });
    }

    public InodeItem withOtime(Timespec newOtime) { return with(c -> c.otime = newOtime); }

    /** The item as changed in transaction {@code newTransid}: transid set, sequence (i_version) bumped. */
    public InodeItem touched(long newTransid) {
        return with(c -> {
            c.transid = newTransid;
            c.sequence++;
        });
    }

    /** A copy with {@code change} applied: one place lists the sixteen fields, not one per with-er. */
    private InodeItem with(Consumer<Copy> change) {
        Copy c = new Copy(this);
        change.accept(c);
        return c.build();
    }

    /** The fields of an InodeItem, open to change. */
    private static final class Copy {
        long generation;
        long transid;
        long size;
        long nbytes;
        long blockGroup;
        long nlink;
        long uid;
        long gid;
        int mode;
        long rdev;
        long flags;
        long sequence;
        Timespec atime;
        Timespec ctime;
        Timespec mtime;
        Timespec otime;

        Copy(InodeItem i) {
            generation = i.generation;
            transid = i.transid;
            size = i.size;
            nbytes = i.nbytes;
            blockGroup = i.blockGroup;
            nlink = i.nlink;
            uid = i.uid;
            gid = i.gid;
            mode = i.mode;
            rdev = i.rdev;
            flags = i.flags;
            sequence = i.sequence;
            atime = i.atime;
            ctime = i.ctime;
            mtime = i.mtime;
            otime = i.otime;
        }

        InodeItem build() {
            return new InodeItem(generation, transid, size, nbytes, blockGroup, nlink, uid, gid, mode, rdev, flags,
                    sequence, atime, ctime, mtime, otime);
        }
    }
}
