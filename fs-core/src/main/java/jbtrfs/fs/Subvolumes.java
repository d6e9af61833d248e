package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.format.DirItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.RootRef;

/** The subvolume and snapshot trees, found through their root items in the root tree. */
final class Subvolumes {
    private static final byte[] DEFAULT_NAME = "default".getBytes(StandardCharsets.US_ASCII);

    private volatile BTree rootTree;
    /** The root items read from {@link #rootTree}: they change only with it, at a commit. */
    private volatile RootItems rootItems;
    private final TreeBlockReader reader;
    private final ConcurrentHashMap<Long, BTree> trees = new ConcurrentHashMap<>();
    private volatile LiveTrees live;
    private volatile ChunkTree chunkTree;

    /** The chunk tree of the last commit: the superblock, not a root item, says where it is. */
    interface ChunkTree {
        BTree tree() throws FsException;
    }

    /**
     * Root items as one committed root tree holds them (every change asks for its subvolume's, to refuse a read-only
     * one): kept with that tree, so that a reader of an older tree never fills the cache of a newer one.
     */
    private record RootItems(BTree tree, ConcurrentHashMap<Long, RootItem> items) {
        RootItems(BTree tree) {
            this(tree, new ConcurrentHashMap<>());
        }
    }

    /** The trees a running transaction changed, as it sees them. */
    interface LiveTrees {
        /** Tree {@code id} with the running transaction's changes, or null when it has none. */
        BTree tree(long id);
    }

    Subvolumes(BTree rootTree, TreeBlockReader reader) {
        this.rootTree = rootTree;
        this.rootItems = new RootItems(rootTree);
        this.reader = reader;
    }

    /** Reads see the running transaction's trees first (read-write mounts). */
    void setLiveTrees(LiveTrees live) { this.live = live; }

    /** Where the committed chunk tree is found (a tree search of tree 3 reads it, as the kernel's does). */
    void setChunkTree(ChunkTree source) { this.chunkTree = source; }

    /** After a commit: the committed trees are the new root tree's. */
    void committed(BTree newRootTree) {
        rootTree = newRootTree;
        rootItems = new RootItems(newRootTree);
        trees.clear();
    }

    BTree rootTree() { return rootTree; }

    /** The root tree with the running transaction's changes (what a search on a read-write mount sees). */
    BTree liveRootTree() {
        LiveTrees l = live;
        BTree t = l == null ? null : l.tree(ObjectIds.ROOT_TREE);
        return t != null ? t : rootTree;
    }

    /** The newest root item of tree {@code id}, or null when there is none. */
    RootItem rootItem(long id) throws CorruptBlockException {
        RootItems r = rootItems;
        RootItem cached = r.items().get(id);
        if (cached != null) return cached;
        Cursor c = r.tree().seekFloor(Key.last(id, KeyType.ROOT_ITEM));
        if (!c.valid() || c.key().objectid() != id || c.key().type() != KeyType.ROOT_ITEM) return null;
        RootItem item = c.decode(RootItem::read);
        r.items().put(id, item);
        return item;
    }

    /** The tree with objectid {@code id}; {@link Errno#ENOENT} when the root tree has no live root item. */
    BTree tree(long id) throws FsException {
        LiveTrees l = live;
        if (l != null) {
            BTree lt = l.tree(id);
            if (lt != null) return lt;
        }
        ChunkTree chunks = chunkTree;
        if (id == ObjectIds.CHUNK_TREE && chunks != null) return chunks.tree();
        BTree t = trees.get(id);
        if (t != null) return t;
        RootItem item = rootItem(id);
        if (item == null || item.refs() == 0) {
            throw new FsException(Errno.ENOENT, "no tree " + id + " in the root tree");
        }
        t = new BTree(reader, id, item.bytenr(), item.level(), item.generation());
        BTree raced = trees.putIfAbsent(id, t);
        return raced != null ? raced : t;
    }

    /** The subvolume the kernel mounts by default: the root tree's "default" dir item, else the top level (5). */
    long defaultSubvolume() throws FsException {
        Cursor c = rootTree.find(new Key(ObjectIds.ROOT_TREE_DIR, KeyType.DIR_ITEM, NameHash.of(DEFAULT_NAME)));
        if (c == null) return ObjectIds.FS_TREE;
        for (DirItem d : readDirItems(c)) {
            if (Arrays.equals(d.name(), DEFAULT_NAME)) {
                long id = d.location().objectid();
                return ObjectIds.isSubvolume(id) && rootItem(id) != null ? id : ObjectIds.FS_TREE;
            }
        }
        return ObjectIds.FS_TREE;
    }

    /**
     * Whether {@code child} is linked into directory {@code dirid} of {@code parent} under {@code name}: the
     * ROOT_REF the kernel requires before it shows a subvolume there (else it shows an empty placeholder).
     */
    boolean linked(long parent, long dirid, byte[] name, long child) throws CorruptBlockException {
        Cursor c = rootTree.find(new Key(parent, KeyType.ROOT_REF, child));
        if (c == null) return false;
        RootRef ref = c.decode(RootRef::read);
        return ref.dirid() == dirid && Arrays.equals(ref.name(), name) && rootItem(child) != null;
    }

    /** Every subvolume and snapshot (not the top level) with its path from the top level. */
    List<FsInfo.SubvolumeSummary> list() throws FsException {
        List<FsInfo.SubvolumeSummary> out = new ArrayList<>();
        Cursor c = rootTree.seek(Key.first(ObjectIds.FIRST_FREE, KeyType.ROOT_ITEM));
        while (c.valid() && Long.compareUnsigned(c.key().objectid(), ObjectIds.LAST_FREE) <= 0) {
            Key k = c.key();
            if (k.type() == KeyType.ROOT_ITEM) {
                RootItem item = c.decode(RootItem::read);
                long id = k.objectid();
                if (item.refs() > 0) {
                    out.add(new FsInfo.SubvolumeSummary(id, path(id), item.generation(), item.readOnly(),
                            k.offset() != 0));
                }
            }
            c.next();
        }
        return out;
    }

    /** The path of subvolume {@code id} from the top level, following ROOT_BACKREFs and directory inode refs. */
    private String path(long id) throws FsException {
        List<String> parts = new ArrayList<>();
        long cur = id;
        for (int depth = 0; cur != ObjectIds.FS_TREE && depth < 256; depth++) {
            Cursor c = rootTree.seek(Key.first(cur, KeyType.ROOT_BACKREF));
            if (!c.valid() || c.key().objectid() != cur || c.key().type() != KeyType.ROOT_BACKREF) {
                return "<unlinked>/" + String.join("/", parts);
            }
            long parent = c.key().offset();
            RootRef ref = c.decode(RootRef::read);
            parts.add(0, new String(ref.name(), StandardCharsets.UTF_8));
            List<String> dirParts = Inodes.pathOfDirectory(tree(parent), ref.dirid());
            parts.addAll(0, dirParts);
            cur = parent;
        }
        return String.join("/", parts);
    }

    /**
     * Subvolume {@code id} as BTRFS_IOC_GET_SUBVOL_INFO reports it: its root item's fields, and its name, parent and
     * directory from its first ROOT_BACKREF (none for the top level or an unlinked one). ENOENT when it does not
     * exist or is deleted.
     */
    SubvolumeInfo info(long id) throws FsException {
        RootItem item = ObjectIds.isSubvolume(id) ? rootItem(id) : null;
        if (item == null || item.refs() == 0) throw new FsException(Errno.ENOENT, "no subvolume " + id);
        String name = "";
        long parent = 0;
        long dirid = 0;
        Cursor c = rootTree.seek(Key.first(id, KeyType.ROOT_BACKREF));
        if (id != ObjectIds.FS_TREE && c.valid() && c.key().objectid() == id
                && c.key().type() == KeyType.ROOT_BACKREF) {
            RootRef ref = c.decode(RootRef::read);
            name = new String(ref.name(), StandardCharsets.UTF_8);
            parent = c.key().offset();
            dirid = ref.dirid();
        }
        return new SubvolumeInfo(id, name, parent, dirid, item.generation(), item.flags(), item.uuid(),
                item.parentUuid(), item.receivedUuid(), item.ctransid(), item.otransid(), item.stransid(),
                item.rtransid(), item.ctime(), item.otime(), item.stime(), item.rtime());
    }

    static List<DirItem> readDirItems(Cursor c) throws CorruptBlockException {
        return c.decode(DirItem::readAll);
    }
}
