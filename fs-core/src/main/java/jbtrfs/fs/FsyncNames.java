package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongPredicate;

import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.DirItem;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.tx.TreeLog;

/**
 * What a file's log needs beside the file so that the replay gives it exactly its names now (≈ the directory part
 * of btrfs_log_inode_parent). New names come from the file's refs (add_inode_ref adds each to its directory); a
 * name of the last commit that is gone goes through its old directory: that directory is logged with its inode
 * item, refs and xattrs and a DIR_LOG_INDEX range over each removed index, and the replay unlinks whatever the
 * log does not hold there (replay_dir_deletes), as the kernel logs the parents a removed hard link leaves.
 * Null where only a commit keeps the names right.
 */
final class FsyncNames {
    /** The log items of each directory to log with the file, for its keys up to DIR_LOG_INDEX. */
    final Map<Long, List<TreeLog.LogItem>> dirs = new LinkedHashMap<>();
    /** Items in {@link #dirs}. */
    int items;

    private final BTree live;
    private final BTree committed;

    private FsyncNames(BTree live, BTree committed) {
        this.live = live;
        this.committed = committed;
    }

    /**
     * The directories to log with file {@code ino} whose refs are {@code names}, or null when its names cannot be
     * logged. {@code logged} says whether an inode's names are in this transaction's log already (its old names
     * may go too).
     */
    static FsyncNames of(BTree live, BTree committed, long ino, List<TreeLog.LogItem> names, LongPredicate logged)
            throws FsException {
        if (names.isEmpty()) return null; // unlinked: the orphan goes with the commit
        FsyncNames n = new FsyncNames(live, committed);
        Set<String> now = new LinkedHashSet<>();
        for (TreeLog.LogItem i : names) now.addAll(parse(i.key(), ByteBuffer.wrap(i.data()), 0, i.data().length));
        Set<String> before = n.committedNames(ino);
        for (String name : now) {
            if (before.contains(name)) continue;
            Name nm = Name.of(name);
            if (!n.replays(nm.parent, nm.bytes)) return null;
        }
        for (String name : before) {
            if (now.contains(name)) continue;
            Name nm = Name.of(name);
            if (!n.dirs.containsKey(nm.parent) && !n.logDirectory(nm.parent, ino, logged)) return null;
        }
        return n;
    }

    /**
     * Whether a new name {@code name} in {@code dir} replays: {@code dir} is of the last commit and the name is free
     * there, or {@code dir} is new and goes into the log with its inode item, refs and xattrs, its own names
     * replaying the same way up to a directory of the last commit (≈ log_new_ancestors).
     */
    private boolean replays(long dir, byte[] name) throws FsException {
        if (committed.find(new Key(dir, KeyType.INODE_ITEM, 0)) != null) {
            return committed.find(new Key(dir, KeyType.DIR_ITEM, NameHash.of(name))) == null;
        }
        if (dirs.containsKey(dir)) return true;
        Cursor c = live.find(new Key(dir, KeyType.INODE_ITEM, 0));
        if (c == null) return false;
        InodeItem inode = c.decode((b, off, size) -> InodeItem.read(b, off));
        if ((inode.mode() & Stat.S_IFMT) != Stat.S_IFDIR) return false;
        List<TreeLog.LogItem> out = copy(dir);
        dirs.put(dir, out);
        items += out.size();
        List<String> names = new ArrayList<>();
        for (TreeLog.LogItem i : out) {
            if (i.key().type() == KeyType.INODE_REF || i.key().type() == KeyType.INODE_EXTREF) {
                names.addAll(parse(i.key(), ByteBuffer.wrap(i.data()), 0, i.data().length));
            }
        }
        if (names.isEmpty()) return false; // removed since: its names went with it
        for (String s : names) {
            Name nm = Name.of(s);
            if (!replays(nm.parent, nm.bytes)) return false;
        }
        return true;
    }

    /** {@code id}'s inode item, refs and xattrs as they are now, as log items. */
    private List<TreeLog.LogItem> copy(long id) throws FsException {
        List<TreeLog.LogItem> out = new ArrayList<>();
        live.scan(new Key(id, KeyType.INODE_ITEM, 0), Key.last(id, KeyType.XATTR_ITEM), (key, leaf, off, size) -> {
            byte[] d = new byte[size];
            leaf.get(off, d);
            out.add(new TreeLog.LogItem(key, d));
            return true;
        });
        return out;
    }

    /**
     * Adds directory {@code dir}'s items: its inode item, refs and xattrs as they are now (the replay deletes the
     * xattrs a logged inode lacks), and one DIR_LOG_INDEX range per removed index the replay may unlink. False
     * when the directory itself moved or went (its names would need logging too).
     */
    private boolean logDirectory(long dir, long ino, LongPredicate logged) throws FsException {
        if (live.find(new Key(dir, KeyType.INODE_ITEM, 0)) == null) return false;
        if (!sameItems(dir, KeyType.INODE_REF, KeyType.INODE_EXTREF)) return false;
        List<TreeLog.LogItem> out = copy(dir);
        List<Key> indexes = new ArrayList<>();
        committed.scan(new Key(dir, KeyType.DIR_INDEX, 0), Key.last(dir, KeyType.DIR_INDEX),
                (key, leaf, off, size) -> indexes.add(key));
        boolean ownRemoved = false;
        for (Key key : indexes) {
            if (live.find(key) != null) continue;
            Cursor c = committed.find(key);
            DirItem d = Subvolumes.readDirItems(c).get(0);
            long child = d.location().objectid();
            if (d.location().type() != KeyType.INODE_ITEM) continue; // a subvolume's name: the commit's business
            if (child == ino) ownRemoved = true;
            else if (!logged.test(child) && !unlinked(child)) continue; // the replay would lose its other names
            out.add(new TreeLog.LogItem(new Key(dir, KeyType.DIR_LOG_INDEX, key.offset()), dirLogItem(key.offset())));
        }
        if (!ownRemoved) return false; // the file's old name was not an index of this directory: damaged
        items += out.size();
        dirs.put(dir, out);
        return true;
    }

    /** Whether inode {@code id} is gone or has no names now, and is no directory (whose children replay would drop). */
    private boolean unlinked(long id) throws FsException {
        Cursor c = live.find(new Key(id, KeyType.INODE_ITEM, 0));
        if (c == null) return true;
        InodeItem inode = c.decode((b, off, size) -> InodeItem.read(b, off));
        return inode.nlink() == 0 && (inode.mode() & Stat.S_IFMT) != Stat.S_IFDIR;
    }

    /** Whether {@code id}'s items of types {@code from} to {@code to} are as the last commit has them. */
    private boolean sameItems(long id, int from, int to) throws FsException {
        List<ByteBuffer> a = items(live, id, from, to);
        return a.equals(items(committed, id, from, to));
    }

    private static List<ByteBuffer> items(BTree tree, long id, int from, int to) throws FsException {
        List<ByteBuffer> out = new ArrayList<>();
        tree.scan(new Key(id, from, 0), Key.last(id, to), (key, leaf, off, size) -> {
            ByteBuffer b = ByteBuffer.allocate(17 + size).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(key.objectid()).put((byte) key.type()).putLong(key.offset());
            b.put(leaf.slice(off, size));
            out.add(b.flip());
            return true;
        });
        return out;
    }

    /** A btrfs_dir_log_item: the range is the one index (its key's offset is the first). */
    private static byte[] dirLogItem(long index) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(index).array();
    }

    private Set<String> committedNames(long ino) throws FsException {
        Set<String> before = new LinkedHashSet<>();
        committed.scan(new Key(ino, KeyType.INODE_REF, 0), Key.last(ino, KeyType.INODE_EXTREF),
                (key, leaf, off, size) -> {
                    before.addAll(parse(key, leaf, off, size));
                    return true;
                });
        return before;
    }

    /** One name as {@link #parse} writes it. */
    private record Name(long parent, long index, byte[] bytes) {
        static Name of(String s) {
            String[] p = s.split("/", 3);
            return new Name(Long.parseLong(p[0]), Long.parseLong(p[1]), HexFormat.of().parseHex(p[2]));
        }
    }

    /** The names of one ref or extref item as "parent/index/hex name". */
    private static List<String> parse(Key key, ByteBuffer buf, int off, int size) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (key.type() == KeyType.INODE_REF) {
                return InodeRef.readAll(b, off, size).stream()
                        .map(r -> key.offset() + "/" + r.index() + "/" + HexFormat.of().formatHex(r.name())).toList();
            }
            return InodeExtref.readAll(b, off, size).stream()
                    .map(r -> r.parentObjectid() + "/" + r.index() + "/" + HexFormat.of().formatHex(r.name())).toList();
        } catch (MalformedItemException e) {
            return List.of("0/0/"); // never a real name (no directory 0): the commit path reports the damage
        }
    }
}
