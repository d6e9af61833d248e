package jbtrfs.fs;

import java.util.ArrayList;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;

/**
 * Inodes that live on without a name (≈ the kernel's orphan code in inode.c): an inode whose last name went while
 * it was open, or an O_TMPFILE, keeps nlink 0 and an ORPHAN_ITEM (objectid -5, type 48, offset its inode number, no
 * data) in its subvolume's tree until it is evicted; after a crash, orphan cleanup at the next read-write mount
 * frees what the items name (btrfs_orphan_cleanup), the kernel's and ours alike.
 */
final class Orphans {
    private static final Logger LOG = LoggerFactory.getLogger(Orphans.class);

    private final InodeWriter w;
    private final FileExtentWriter files;

    Orphans(InodeWriter w, FileExtentWriter files) {
        this.w = w;
        this.files = files;
    }

    private static Key key(InodeId id) { return new Key(ObjectIds.ORPHAN, KeyType.ORPHAN_ITEM, id.objectid()); }

    /** Adds the orphan item of {@code id} (btrfs_orphan_add). */
    void add(InodeId id) throws FsException {
        w.tx().editor().put(w.root(id.root()), key(id), new byte[0]);
    }

    /** Removes the orphan item of {@code id} if it has one (btrfs_orphan_del). */
    void delete(InodeId id) throws FsException {
        w.tx().editor().delete(w.root(id.root()), key(id));
    }

    /**
     * Frees {@code id} if no name holds it any more (btrfs_evict_inode): its extents, checksums and items, then its
     * orphan item. An inode with names, or one already gone, stays as it is.
     */
    void evict(InodeId id) throws FsException {
        InodeItem item;
        try {
            item = w.load(id);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            return;
        }
        if (item.nlink() != 0) return;
        try {
            w.checkWritable(id.root());
        } catch (FsException e) {
            if (e.errno() != Errno.EROFS) throw e;
            // a read-only snapshot taken while the file was open keeps it, as it keeps everything else
            LOG.debug("not freeing {}: {}", id, e.getMessage());
            return;
        }
        w.reserveMetadata(16);
        files.deleteInode(id);
        delete(id);
    }

    /** The inode numbers the orphan items in subvolume tree {@code tree} name, in key order. */
    static List<Long> listed(BTree tree) throws FsException {
        List<Long> out = new ArrayList<>();
        Cursor c = tree.seek(Key.first(ObjectIds.ORPHAN, KeyType.ORPHAN_ITEM));
        while (c.valid() && c.key().objectid() == ObjectIds.ORPHAN && c.key().type() == KeyType.ORPHAN_ITEM) {
            out.add(c.key().offset());
            c.next();
        }
        return out;
    }

    /**
     * btrfs_orphan_cleanup of subvolume {@code root}: each orphan item's inode is freed when its nlink is 0; an item
     * naming an inode that is gone or has names again is stale and goes alone. Returns how many inodes were freed.
     */
    int cleanup(long root) throws FsException {
        List<Long> inos = listed(w.tree(root));
        int freed = 0;
        for (long ino : inos) {
            InodeId id = new InodeId(root, ino);
            InodeItem item;
            try {
                item = w.load(id);
            } catch (FsException e) {
                if (e.errno() != Errno.ENOENT) throw e;
                item = null;
            }
            w.reserveMetadata(16);
            if (item != null && item.nlink() == 0) {
                files.deleteInode(id);
                freed++;
            }
            delete(id);
        }
        if (!inos.isEmpty()) {
            LOG.info("orphan cleanup of subvolume {}: {} inodes freed, {} stale orphan items dropped", root, freed,
                    inos.size() - freed);
        }
        return freed;
    }

    /** The subvolumes whose orphans a read-write mount cleans: the top level and every writable subvolume. */
    static List<Long> writableSubvolumes(BTree rootTree) throws FsException {
        List<Long> out = new ArrayList<>();
        out.add(ObjectIds.FS_TREE);
        Cursor c = rootTree.seek(Key.first(ObjectIds.FIRST_FREE, KeyType.ROOT_ITEM));
        while (c.valid() && Long.compareUnsigned(c.key().objectid(), ObjectIds.LAST_FREE) <= 0) {
            if (c.key().type() == KeyType.ROOT_ITEM) {
                RootItem item = c.decode(RootItem::read);
                if (item.refs() > 0 && !item.readOnly()) out.add(c.key().objectid());
            }
            c.next();
        }
        return out;
    }
}
