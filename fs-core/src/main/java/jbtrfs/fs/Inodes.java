package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Timespec;

/** Inode items and what stat(2) shows for them, as the kernel fills the VFS inode from the item. */
final class Inodes {
    private final Subvolumes subvolumes;
    private final int sectorsize;
    /** The time of a placeholder directory: the moment it is looked up. */
    private final Clock clock;

    /** The subvolumes whose trees the inodes live in. */
    Subvolumes subvolumes() { return subvolumes; }

    Inodes(Subvolumes subvolumes, int sectorsize, Clock clock) {
        this.subvolumes = subvolumes;
        this.sectorsize = sectorsize;
        this.clock = clock;
    }

    /** The inode item of {@code id}. */
    InodeItem item(InodeId id) throws FsException {
        BTree tree = subvolumes.tree(id.root());
        Cursor c = tree.find(new Key(id.objectid(), KeyType.INODE_ITEM, 0));
        if (c == null) throw new FsException(Errno.ENOENT, "no inode " + id);
        if (c.dataSize() < InodeItem.SIZE) {
            throw new CorruptBlockException(id.root(), c.leaf().bytenr(), c.slot(), "inode item of "
                    + c.dataSize() + " bytes, expected " + InodeItem.SIZE);
        }
        return c.decode(InodeItem.SIZE, InodeItem::read);
    }

    Stat stat(InodeId id) throws FsException {
        if (id.objectid() == ObjectIds.EMPTY_SUBVOL_DIR) return placeholderStat();
        InodeItem i = item(id);
        int type = i.mode() & Stat.S_IFMT;
        long rdev = type == Stat.S_IFCHR || type == Stat.S_IFBLK ? userspaceDev(i.rdev()) : 0;
        long blocks = ((i.nbytes() + sectorsize - 1) / sectorsize * sectorsize) >>> 9;
        return new Stat(id.objectid(), i.mode(), i.nlink(), (int) i.uid(), (int) i.gid(), rdev, i.size(), blocks,
                i.atime(), i.mtime(), i.ctime(), i.otime(), i.generation(), i.flags());
    }

    /**
     * The directory the kernel shows where a snapshot holds a subvolume it did not copy (new_simple_dir):
     * inode 2, mode 0755, times of the moment it is looked up.
     */
    private Stat placeholderStat() {
        long now = clock.millis();
        Timespec t = new Timespec(now / 1000, (int) (now % 1000) * 1_000_000);
        return new Stat(ObjectIds.EMPTY_SUBVOL_DIR, Stat.S_IFDIR | 0755, 1, 0, 0, 0, 0, 0, t, t, t, t, 0, 0);
    }

    /**
     * The kernel stores i_rdev in its internal dev_t form (major in the top 12 of 32 bits, minor in the low 20) and
     * shows it to userspace as glibc's makedev(major, minor).
     */
    static long userspaceDev(long stored) {
        long kdev = stored & 0xffffffffL;
        long major = kdev >>> 20;
        long minor = kdev & 0xfffff;
        return ((major & 0xfffff000L) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xff);
    }

    /** The kernel's internal dev_t (major << 20 | minor) from the user-space (new_encode_dev) form. */
    static long storedDev(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        return (major << 20) | (minor & 0xfffff);
    }

    /** Names from the subvolume's root directory down to directory {@code dirid}, via each directory's inode ref. */
    static List<String> pathOfDirectory(BTree tree, long dirid) throws CorruptBlockException {
        List<String> parts = new ArrayList<>();
        long cur = dirid;
        for (int depth = 0; cur != ObjectIds.FIRST_FREE_DIR && depth < 4096; depth++) {
            Cursor c = tree.seek(Key.first(cur, KeyType.INODE_REF));
            if (!c.valid() || c.key().objectid() != cur || c.key().type() != KeyType.INODE_REF) break;
            List<InodeRef> refs = c.decode(InodeRef::readAll);
            if (refs.isEmpty()) break;
            parts.add(0, new String(refs.get(0).name(), StandardCharsets.UTF_8));
            cur = c.key().offset();
        }
        return parts;
    }
}
