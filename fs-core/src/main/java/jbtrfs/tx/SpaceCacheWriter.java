package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.FreeSpaceHeader;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Timespec;
import jbtrfs.spacecache.SpaceCachePages;

/**
 * The commit's v1 space cache half (≈ cache_save_setup, __btrfs_write_out_cache and update_cache_item). For every
 * dirty block group of 100 MiB or more, once per transaction: the cache inode (made on first use), its old extent
 * dropped (freed when the commit lands, so the committed cache stays intact until then) and a new one allocated.
 * Then, each settle round, the group's pages are serialised from its free space after the commit, and the header
 * (generation, entries, bitmaps) and inode item follow them; the settle loop ends when no round moves anything, so
 * the pages describe the final state. {@link DirtyBlockGroupWriteout} writes the pages (two stages); a group whose
 * write failed gets inode generation 0 in the next settle (the kernel's BTRFS_DC_ERROR): ignored, never trusted.
 */
final class SpaceCacheWriter {
    private static final Logger LOG = LoggerFactory.getLogger(SpaceCacheWriter.class);
    private static final long FLAGS = InodeItem.FLAG_NODATASUM | InodeItem.FLAG_NODATACOW
            | InodeItem.FLAG_NOCOMPRESS | InodeItem.FLAG_PREALLOC;
    private static final int MODE = 0100600;

    private final Transaction tx;
    private final BlockGroups groups;
    private final int sectorsize;
    private final Timespec now;
    private final Map<Long, CacheFile> files = new LinkedHashMap<>();

    /** One group's cache file in this commit. */
    static final class CacheFile {
        final long blockGroup;
        final Key inode;
        /** Logical address of its new extent, or -1 when none could be had (no cache this time). */
        final long extent;
        final long size;
        SpaceCachePages.Layout layout;
        SpaceCachePages.Layout written;
        boolean failed;

        CacheFile(long blockGroup, Key inode, long extent, long size) {
            this.blockGroup = blockGroup;
            this.inode = inode;
            this.extent = extent;
            this.size = size;
        }

        long generation(long transid) { return extent < 0 || failed ? 0 : transid; }
    }

    /** A cache file's pages to write at {@code extent}, and the layout they serialise. */
    record PendingWrite(long blockGroup, long extent, byte[] pages, SpaceCachePages.Layout layout) {
    }

    SpaceCacheWriter(Transaction tx, int sectorsize, Clock clock) {
        this.tx = tx;
        this.groups = tx.blockGroups();
        this.sectorsize = sectorsize;
        long ms = clock.millis();
        this.now = new Timespec(ms / 1000, (int) (ms % 1000) * 1_000_000);
    }

    /** One settle round: sets up new groups' files, re-serialises every file, updates items; true if anything moved. */
    boolean update() throws FsException {
        boolean changed = false;
        for (BlockGroup bg : groups.dirty()) {
            if (bg.length() < SpaceCachePages.MIN_GROUP) continue;
            CacheFile f = files.get(bg.start());
            if (f == null) {
                f = setUp(bg);
                files.put(bg.start(), f);
                changed = true;
            }
            if (f.extent >= 0 && !f.failed) {
                // the layout gives the header's counts; the pages (and their crcs) are made once, after settling
                f.layout = SpaceCachePages.layout(bg.freeAfterCommit(), bg.start(), bg.length(), sectorsize,
                        (int) (f.size / SpaceCachePages.PAGE));
                if (f.layout == null) {
                    LOG.warn("free space cache of block group {} does not fit its {} bytes; left invalid",
                            bg.start(), f.size);
                    f.failed = true;
                } else {
                    changed |= putIfChanged(FreeSpaceHeader.key(bg.start()), new FreeSpaceHeader(f.inode,
                            tx.transid(), f.layout.entries(), f.layout.bitmaps()).encode());
                }
            }
            long size = f.extent < 0 ? 0 : f.size;
            changed |= putIfChanged(f.inode, inodeItem(f.generation(tx.transid()), size));
        }
        return changed;
    }

    /** Files whose current pages are not on the device yet (none failed). */
    List<PendingWrite> unwritten() {
        List<PendingWrite> out = new ArrayList<>();
        for (CacheFile f : files.values()) {
            if (f.extent < 0 || f.failed || f.layout == null || f.layout.sameAs(f.written)) continue;
            out.add(new PendingWrite(f.blockGroup, f.extent, f.layout.encode(tx.transid()).pages(), f.layout));
        }
        return out;
    }

    /** The writes went out; those of {@code failedGroups} did not, and their caches turn invalid. */
    void written(List<PendingWrite> writes, Set<Long> failedGroups) {
        for (PendingWrite w : writes) {
            CacheFile f = files.get(w.blockGroup());
            if (failedGroups.contains(w.blockGroup())) {
                f.failed = true;
                LOG.warn("writing the free space cache of block group {} failed; it is marked invalid",
                        w.blockGroup());
            } else {
                f.written = w.layout();
            }
        }
    }

    /** Files of this commit, by block group. */
    Map<Long, CacheFile> files() { return files; }

    private CacheFile setUp(BlockGroup bg) throws FsException {
        TreeRoot rootTree = tx.root(ObjectIds.ROOT_TREE);
        Cursor h = tx.tree(ObjectIds.ROOT_TREE).find(FreeSpaceHeader.key(bg.start()));
        Key inode;
        if (h != null) {
            inode = h.decode(FreeSpaceHeader.SIZE, FreeSpaceHeader::read).location();
            truncate(tx, rootTree, inode.objectid());
        } else {
            inode = new Key(nextObjectid(), KeyType.INODE_ITEM, 0);
            tx.editor().insert(rootTree, inode, inodeItem(0, 0));
            tx.editor().insert(rootTree, FreeSpaceHeader.key(bg.start()),
                    new FreeSpaceHeader(inode, 0, 0, 0).encode());
        }
        long size = SpaceCachePages.fileSize(bg.length(), sectorsize);
        // no new chunk for a cache: without room it is skipped this time (the kernel's BTRFS_TRANS_CACHE_ENOSPC)
        long at = groups.tryAllocate(BlockGroupFlags.DATA, size, sectorsize);
        if (at < 0) {
            LOG.info("no data space for the free space cache of block group {}; left invalid", bg.start());
            return new CacheFile(bg.start(), inode, -1, size);
        }
        tx.dataRefs().created(at, size);
        tx.dataRefs().change(at, size, new DataRefs.Ref(ObjectIds.ROOT_TREE, inode.objectid(), 0), 1);
        tx.editor().insert(rootTree, new Key(inode.objectid(), KeyType.EXTENT_DATA, 0),
                FileExtentItem.encodeRegular(tx.transid(), FileExtentItem.TYPE_REG, at, size, 0, size, size));
        return new CacheFile(bg.start(), inode, at, size);
    }

    /**
     * Deletes every v1 space cache: headers, inodes and their extents (≈ cleanup_free_space_cache_v1, when the
     * free-space tree takes over). Returns how many there were.
     */
    static int removeAll(Transaction tx) throws FsException {
        TreeRoot rootTree = tx.root(ObjectIds.ROOT_TREE);
        List<Key> headers = new ArrayList<>();
        List<Key> inodes = new ArrayList<>();
        Cursor c = tx.tree(ObjectIds.ROOT_TREE).seek(new Key(ObjectIds.FREE_SPACE, 0, 0));
        while (c.valid() && c.key().objectid() == ObjectIds.FREE_SPACE && c.key().type() == 0) {
            headers.add(c.key());
            inodes.add(c.decode(FreeSpaceHeader.SIZE, FreeSpaceHeader::read).location());
            c.next();
        }
        for (int i = 0; i < headers.size(); i++) {
            truncate(tx, rootTree, inodes.get(i).objectid());
            tx.editor().delete(rootTree, inodes.get(i));
            tx.editor().delete(rootTree, headers.get(i));
        }
        return headers.size();
    }

    /** Drops the cache file's extents (≈ btrfs_truncate_free_space_cache); they are freed at commit. */
    private static void truncate(Transaction tx, TreeRoot rootTree, long ino) throws FsException {
        BTree tree = tx.tree(ObjectIds.ROOT_TREE);
        List<Key> keys = new ArrayList<>();
        Cursor c = tree.seek(new Key(ino, KeyType.EXTENT_DATA, 0));
        while (c.valid() && c.key().objectid() == ino && c.key().type() == KeyType.EXTENT_DATA) {
            FileExtentItem fe = c.decode(FileExtentItem::read);
            if (!fe.isInline() && !fe.isHole()) {
                tx.dataRefs().change(fe.diskBytenr(), fe.diskNumBytes(),
                        new DataRefs.Ref(ObjectIds.ROOT_TREE, ino, c.key().offset() - fe.offset()), -1);
            }
            keys.add(c.key());
            c.next();
        }
        for (Key k : keys) tx.editor().delete(rootTree, k);
    }

    /** The root tree's next free objectid (≈ btrfs_find_free_objectid: above the highest, at least 256). */
    private long nextObjectid() throws FsException {
        Cursor c = tx.tree(ObjectIds.ROOT_TREE).seekFloor(new Key(ObjectIds.LAST_FREE, 0xff, -1L));
        long highest = ObjectIds.FIRST_FREE - 1;
        if (c.valid() && Long.compareUnsigned(c.key().objectid(), highest) > 0) highest = c.key().objectid();
        return highest + 1;
    }

    private boolean putIfChanged(Key key, byte[] want) throws FsException {
        Cursor c = tx.tree(ObjectIds.ROOT_TREE).find(key);
        if (c != null && c.dataSize() == want.length) {
            ByteBuffer have = c.buffer().duplicate().position(c.dataOffset()).limit(c.dataOffset() + want.length);
            if (have.equals(ByteBuffer.wrap(want))) return false;
        }
        tx.editor().put(tx.root(ObjectIds.ROOT_TREE), key, want);
        return true;
    }

    private byte[] inodeItem(long generation, long size) {
        Timespec zero = new Timespec(0, 0);
        return new InodeItem(generation, tx.transid(), size, size, 0, 1, 0, 0, MODE, 0, FLAGS, 1, zero, now, zero,
                zero).encode();
    }
}
