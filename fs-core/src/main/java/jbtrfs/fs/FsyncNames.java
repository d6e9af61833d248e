package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
 * log does not hold there (replay_dir_deletes), as the kernel logs the parents a removed hard link leaves. A name
 * in a directory made in this transaction brings that directory and its new ancestors; a directory's own fsync
 * logs the names it gained and lost ({@link #ofDirectory}). Null where only a commit keeps the names right.
 */
final class FsyncNames {
    /** The inodes to log with the fsync'd one: what the log holds of each, up to a key. */
    final Map<Long, Items> inodes = new LinkedHashMap<>();
    /** Bytes of the items in {@link #inodes}, each with its leaf header. */
    long bytes;

    /** What the running transaction's log holds of other inodes (fsyncs before this one). */
    interface InLog {
        /** Whether inode {@code id} is in the log with the names it has now (the replay gives it those). */
        boolean withNames(long id) throws FsException;

        /** Whether inode {@code id} is in the log at all, maybe with names it has lost since. */
        boolean any(long id);
    }

    /** New files logged before whose refs this log rewrites: their names in the log are their names now. */
    final Set<Long> renamed = new LinkedHashSet<>();

    /** The log holds exactly {@code items} among an inode's keys from {@code from} to {@code to}. */
    record Items(Key from, Key to, List<TreeLog.LogItem> items) {
    }

    private final BTree live;
    private final BTree committed;
    /** The running transaction, whose changed leaves are the only ones a directory's changes are read from. */
    private final long transid;
    /** What this transaction's log holds of other inodes. */
    private final InLog logged;
    /** Each directory's index changes, read once. */
    private final Map<Long, DirIndexChanges> dirChanges = new HashMap<>();

    private FsyncNames(BTree live, BTree committed, long transid, InLog logged) {
        this.live = live;
        this.committed = committed;
        this.transid = transid;
        this.logged = logged;
    }

    /**
     * The directories to log with file {@code ino} whose refs are {@code names}, or null when its names cannot be
     * logged. {@code logged} says whether an inode's names are in this transaction's log already (its old names
     * may go too).
     */
    static FsyncNames of(BTree live, BTree committed, long transid, long ino, List<TreeLog.LogItem> names,
                         InLog logged) throws FsException {
        if (names.isEmpty()) return null; // unlinked: the orphan goes with the commit
        FsyncNames n = new FsyncNames(live, committed, transid, logged);
        Set<String> now = names(names);
        Set<String> before = names(committed, ino);
        for (String name : now) {
            if (before.contains(name)) continue;
            Name nm = Name.of(name);
            if (!n.replays(nm.parent, nm.bytes)) return null;
        }
        for (String name : before) {
            if (now.contains(name)) continue;
            Name nm = Name.of(name);
            if (!n.inodes.containsKey(nm.parent) && !n.logDirectory(nm.parent, ino, nm.index, logged)) return null;
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
            Cursor taken = committed.find(new Key(dir, KeyType.DIR_ITEM, NameHash.of(name)));
            return taken == null || replaced(Subvolumes.readDirItems(taken), dir, name);
        }
        if (inodes.containsKey(dir)) return true;
        Cursor c = live.find(new Key(dir, KeyType.INODE_ITEM, 0));
        if (c == null) return false;
        InodeItem inode = c.decode((b, off, size) -> InodeItem.read(b, off));
        if ((inode.mode() & Stat.S_IFMT) != Stat.S_IFDIR) return false;
        List<TreeLog.LogItem> out = copy(dir, KeyType.INODE_ITEM, KeyType.XATTR_ITEM);
        put(dir, Key.last(dir, KeyType.XATTR_ITEM), out);
        return namesReplay(out);
    }

    /**
     * Whether the committed entries {@code held} (a DIR_ITEM of {@code dir}) name only a file the new {@code name}
     * replaced: one with no name left, which the replay unlinks as it adds the new name (≈ add_conflicting_inode,
     * which logs nothing for a deleted non-directory), or one living on under its other names, logged as
     * {@link #conflicting} says. A directory or a hash collision with another name still commit.
     */
    private boolean replaced(List<DirItem> held, long dir, byte[] name) throws FsException {
        for (DirItem d : held) {
            if (!Arrays.equals(d.name(), name) || d.location().type() != KeyType.INODE_ITEM) return false;
            long victim = d.location().objectid();
            Cursor c = live.find(new Key(victim, KeyType.INODE_ITEM, 0));
            if (c != null && c.decode((b, off, size) -> InodeItem.read(b, off)).nlink() != 0) {
                if (!conflicting(victim, dir, name)) return false;
                continue;
            }
            Cursor was = committed.find(new Key(victim, KeyType.INODE_ITEM, 0));
            if (was == null || (was.decode((b, off, size) -> InodeItem.read(b, off)).mode() & Stat.S_IFMT)
                    == Stat.S_IFDIR) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether file {@code victim}, whose name {@code name} in {@code dir} a logged name took and which lives on
     * under other names, goes into the log as the kernel's log_conflicting_inodes puts it (LOG_INODE_EXISTS): its
     * inode item as existing (generation and size 0: the replay keeps its size), its refs and xattrs as they are
     * now. The replay then unlinks the taken name (unlink_old_inode_refs) and keeps or adds its others. Only for a
     * regular file of the last commit that lost no other name and is not in this log yet, whose new names replay.
     */
    private boolean conflicting(long victim, long dir, byte[] name) throws FsException {
        if (inodes.containsKey(victim)) return true;
        if (logged.any(victim)) return false;
        Cursor c = live.find(new Key(victim, KeyType.INODE_ITEM, 0));
        Cursor was = committed.find(new Key(victim, KeyType.INODE_ITEM, 0));
        if (c == null || was == null) return false;
        if ((c.decode((b, off, size) -> InodeItem.read(b, off)).mode() & Stat.S_IFMT) != Stat.S_IFREG) return false;
        Set<String> now = names(live, victim);
        Set<String> before = names(committed, victim);
        List<Name> lost = before.stream().filter(n -> !now.contains(n)).map(Name::of).toList();
        if (lost.size() != 1 || lost.get(0).parent != dir || !Arrays.equals(lost.get(0).bytes, name)) return false;
        List<TreeLog.LogItem> out = new ArrayList<>();
        for (TreeLog.LogItem i : copy(victim, KeyType.INODE_ITEM, KeyType.XATTR_ITEM)) {
            out.add(i.key().type() == KeyType.INODE_ITEM ? existing(i.key(), i.data()) : i);
        }
        put(victim, Key.last(victim, KeyType.XATTR_ITEM), out);
        for (String n : now) {
            if (before.contains(n)) continue;
            Name nm = Name.of(n);
            if (!replays(nm.parent, nm.bytes)) return false;
        }
        return true;
    }

    /** Whether the names among {@code items} (an inode's copy) replay, as {@link #replays} says; false for none. */
    private boolean namesReplay(List<TreeLog.LogItem> items) throws FsException {
        List<String> names = new ArrayList<>();
        for (TreeLog.LogItem i : items) {
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

    /** {@code id}'s items of types {@code from} to {@code to} as they are now, as log items. */
    private List<TreeLog.LogItem> copy(long id, int from, int to) throws FsException {
        List<TreeLog.LogItem> out = new ArrayList<>();
        live.scan(new Key(id, from, 0), Key.last(id, to), (key, leaf, off, size) -> {
            byte[] d = new byte[size];
            leaf.get(off, d);
            out.add(new TreeLog.LogItem(key, d));
            return true;
        });
        return out;
    }

    /**
     * The log items of an fsync of directory {@code dir} (≈ btrfs_log_inode with LOG_INODE_ALL of a directory): its
     * inode item, refs and xattrs, a DIR_INDEX item per name it gained and a DIR_LOG_INDEX range per name of the last
     * commit it lost (the replay unlinks those), and each new regular or special file it names logged as existing
     * (generation and size 0, as the kernel's LOG_INODE_EXISTS: its data needs its own fsync); a new symlink whole,
     * a new directory brings its new ancestors, a new subdirectory its entries, a rename in its parent its new
     * name. Null where only a commit does: a directory moved to another parent since the commit, a removed name
     * whose inode lives on elsewhere unlogged, a directory or symlink of the last commit named here.
     */
    static FsyncNames ofDirectory(BTree live, BTree committed, long transid, long dir, InLog logged)
            throws FsException {
        FsyncNames n = new FsyncNames(live, committed, transid, logged);
        List<TreeLog.LogItem> out = n.copy(dir, KeyType.INODE_ITEM, KeyType.XATTR_ITEM);
        List<TreeLog.LogItem> ranges;
        if (committed.find(new Key(dir, KeyType.INODE_ITEM, 0)) == null) {
            if (!n.namesReplay(out)) return null;
            ranges = List.of();
        } else {
            if (!n.sameItems(dir, KeyType.INODE_REF, KeyType.INODE_EXTREF) && !n.renamedInPlace(dir)) return null;
            ranges = n.removedRanges(dir, -1, logged);
            if (ranges == null) return null;
        }
        if (!n.newEntries(dir, out, logged)) return null;
        out.addAll(ranges);
        out.sort((a, b) -> a.key().compareTo(b.key()));
        n.inodes.remove(dir);
        n.put(dir, Key.last(dir, KeyType.DIR_INDEX), out);
        return n;
    }

    /**
     * Whether directory {@code dir} of the last commit was renamed within its parent only: its logged ref then
     * replays the rename (add_inode_ref adds the new name, unlink_old_inode_refs drops the old one), as the kernel
     * logs it. A move to another parent is what the kernel commits for (btrfs_record_unlink_dir marks it).
     */
    private boolean renamedInPlace(long dir) throws FsException {
        Set<String> was = names(committed, dir);
        Set<String> now = names(live, dir);
        if (was.size() != 1 || now.size() != 1) return false;
        Name old = Name.of(was.iterator().next());
        Name nm = Name.of(now.iterator().next());
        return old.parent == nm.parent && replays(nm.parent, nm.bytes);
    }

    /**
     * Adds to {@code out} the DIR_INDEX items of {@code dir} that the last commit lacks, and logs what each names: a
     * new regular file as existing (≈ LOG_INODE_EXISTS), a new subdirectory whole with its own entries (≈
     * log_new_dir_dentries), a new symlink whole, a new fifo, device node or socket as existing like a file. False
     * for anything else: a directory or symlink of the last commit moved here.
     */
    private boolean newEntries(long dir, List<TreeLog.LogItem> out, InLog logged) throws FsException {
        for (TreeLog.LogItem i : changes(dir).gained) {
            DirItem d = DirItem.readAll(ByteBuffer.wrap(i.data()).order(ByteOrder.LITTLE_ENDIAN), 0,
                    i.data().length).get(0);
            long child = d.location().objectid();
            boolean isNew = committed.find(new Key(child, KeyType.INODE_ITEM, 0)) == null;
            if (d.location().type() != KeyType.INODE_ITEM) return false;
            if (logged.any(child) && !logged.withNames(child)) {
                // its log holds names it lost since (a renamed temporary file): its refs go in again, as the
                // kernel's btrfs_log_new_name moves a logged inode's name at the rename; one of the last commit
                // may have lost a committed name the replay would keep
                if (!isNew || d.type() != DirItem.FT_REG_FILE) return false;
                if (!inodes.containsKey(child)) {
                    List<TreeLog.LogItem> refs = copy(child, KeyType.INODE_REF, KeyType.INODE_EXTREF);
                    inodes.put(child, new Items(new Key(child, KeyType.INODE_REF, 0),
                            Key.last(child, KeyType.INODE_EXTREF), refs));
                    bytes += TreeLog.bytes(refs);
                    renamed.add(child);
                }
                out.add(i);
                continue;
            }
            if (d.type() == DirItem.FT_DIR && isNew && !inodes.containsKey(child)) {
                List<TreeLog.LogItem> sub = copy(child, KeyType.INODE_ITEM, KeyType.XATTR_ITEM);
                if (!newEntries(child, sub, logged)) return false;
                sub.sort((a, b) -> a.key().compareTo(b.key()));
                put(child, Key.last(child, KeyType.DIR_INDEX), sub);
            } else if (d.type() == DirItem.FT_SYMLINK) {
                // its target is its content: logged whole (the kernel's btrfs_log_inode always logs a symlink ALL)
                if (!isNew) return false;
                if (!inodes.containsKey(child)) {
                    put(child, Key.last(child, KeyType.EXTENT_DATA),
                            copy(child, KeyType.INODE_ITEM, KeyType.EXTENT_DATA));
                }
            } else if (d.type() == DirItem.FT_DIR || d.type() == DirItem.FT_UNKNOWN || d.type() > DirItem.FT_SOCK) {
                return false;
            } else if (isNew && !logged.withNames(child) && !inodes.containsKey(child)) {
                Cursor c = live.find(new Key(child, KeyType.INODE_ITEM, 0));
                if (c == null) return false;
                byte[] inode = new byte[c.dataSize()];
                c.buffer().get(c.dataOffset(), inode);
                put(child, Key.last(child, KeyType.INODE_ITEM),
                        List.of(existing(new Key(child, KeyType.INODE_ITEM, 0), inode)));
            }
            out.add(i);
        }
        return true;
    }

    /**
     * Adds directory {@code dir}'s items for the removed name at {@code index} of file {@code ino}: its inode item,
     * refs and xattrs as they are now (the replay deletes the xattrs a logged inode lacks), and one DIR_LOG_INDEX
     * range per removed index the replay may unlink. False when the directory itself moved or went (its names would
     * need logging too).
     */
    private boolean logDirectory(long dir, long ino, long index, InLog logged) throws FsException {
        if (live.find(new Key(dir, KeyType.INODE_ITEM, 0)) == null) return false;
        if (!sameItems(dir, KeyType.INODE_REF, KeyType.INODE_EXTREF)) return false;
        List<TreeLog.LogItem> ranges = removedRanges(dir, ino, logged);
        Key own = new Key(dir, KeyType.DIR_LOG_INDEX, index);
        // the file's old name not a removed index of this directory: damaged, the commit path reports it
        if (ranges.stream().noneMatch(r -> r.key().equals(own))) return false;
        List<TreeLog.LogItem> out = copy(dir, KeyType.INODE_ITEM, KeyType.XATTR_ITEM);
        out.addAll(ranges);
        put(dir, Key.last(dir, KeyType.DIR_LOG_INDEX), out);
        return true;
    }

    /**
     * A DIR_LOG_INDEX range over each index of {@code dir} in the last commit that is gone and whose replay loses
     * nothing: its inode is {@code ino}, logged in this transaction, or unlinked. With {@code ino} -1 (a directory
     * fsync, which must give every name) null when another is gone. Also a file that only lost names (a hard link
 * removed), as the kernel logs it.
     */
    private List<TreeLog.LogItem> removedRanges(long dir, long ino, InLog logged) throws FsException {
        List<TreeLog.LogItem> out = new ArrayList<>();
        // an index may be taken again by a new name (ours count on from the largest index, not the kernel's)
        for (TreeLog.LogItem gone : changes(dir).lost) {
            Key key = gone.key();
            DirItem d = DirItem.readAll(ByteBuffer.wrap(gone.data()).order(ByteOrder.LITTLE_ENDIAN), 0,
                    gone.data().length).get(0);
            long child = d.location().objectid();
            boolean replays = d.location().type() == KeyType.INODE_ITEM
                    && (child == ino || logged.withNames(child) || unlinked(child, logged)
                    || onlyLostNames(child, ino == -1 ? dir : -1));
            if (!replays && ino == -1) return null;
            // else left alone: a subvolume's name is the commit's business, an inode living on unlogged keeps it
            if (replays) {
                out.add(new TreeLog.LogItem(new Key(dir, KeyType.DIR_LOG_INDEX, key.offset()),
                        dirLogItem(key.offset())));
            }
        }
        return out;
    }

    /** How {@code dir}'s indexes changed since the last commit, from the leaves this transaction changed. */
    private DirIndexChanges changes(long dir) throws FsException {
        DirIndexChanges c = dirChanges.get(dir);
        if (c == null) {
            c = DirIndexChanges.of(live, committed, transid, dir);
            dirChanges.put(dir, c);
        }
        return c;
    }

    private void put(long id, Key to, List<TreeLog.LogItem> out) {
        inodes.put(id, new Items(new Key(id, 0, 0), to, out));
        bytes += TreeLog.bytes(out);
    }

    /**
     * Whether inode {@code id} is gone or has no names now, and the replay's unlink of its last name loses nothing
     * else: a removed directory's entries of the last commit are each gone too, or logged, or live on under names
     * of the last commit (the replay unlinks them all, as the kernel's replay_dir_deletes of a directory without
     * links does).
     */
    private boolean unlinked(long id, InLog logged) throws FsException {
        Cursor c = live.find(new Key(id, KeyType.INODE_ITEM, 0));
        if (c == null) c = committed.find(new Key(id, KeyType.INODE_ITEM, 0));
        else if (c.decode((b, off, size) -> InodeItem.read(b, off)).nlink() != 0) return false;
        if (c == null || (c.decode((b, off, size) -> InodeItem.read(b, off)).mode() & Stat.S_IFMT) != Stat.S_IFDIR) {
            return true;
        }
        List<Key> entries = new ArrayList<>();
        committed.scan(new Key(id, KeyType.DIR_INDEX, 0), Key.last(id, KeyType.DIR_INDEX),
                (key, leaf, off, size) -> entries.add(key));
        for (Key key : entries) {
            DirItem d = Subvolumes.readDirItems(committed.find(key)).get(0);
            long child = d.location().objectid();
            if (d.location().type() != KeyType.INODE_ITEM) return false;
            if (!logged.withNames(child) && !unlinked(child, logged) && !onlyLostNames(child, -1)) return false;
        }
        return true;
    }

    /**
     * Whether file {@code id} has names and each is one of the last commit or in directory {@code logging}, whose
     * fsync logs every index it gained: then the replay's unlink of another leaves it as it is now (a file renamed
     * within the directory gets its new name from the log, as the kernel logs it; one moved elsewhere would lose
     * its new name).
     */
    private boolean onlyLostNames(long id, long logging) throws FsException {
        Cursor c = live.find(new Key(id, KeyType.INODE_ITEM, 0));
        if (c == null) return false;
        InodeItem inode = c.decode((b, off, size) -> InodeItem.read(b, off));
        if ((inode.mode() & Stat.S_IFMT) == Stat.S_IFDIR) return false;
        Set<String> now = names(live, id);
        Set<String> before = names(committed, id);
        return !now.isEmpty() && now.stream().allMatch(n -> before.contains(n) || Name.of(n).parent == logging);
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

    /** An inode item as the kernel's LOG_INODE_EXISTS logs it: generation and size 0 (the replay keeps its own). */
    private static TreeLog.LogItem existing(Key key, byte[] inode) {
        byte[] d = inode.clone();
        ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 0).putLong(16, 0);
        return new TreeLog.LogItem(key, d);
    }

    /** A btrfs_dir_log_item: the range is the one index (its key's offset is the first). */
    private static byte[] dirLogItem(long index) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(index).array();
    }

    /** The names in ref and extref items {@code refs}, as {@link #names(BTree, long)} gives them. */
    static Set<String> names(List<TreeLog.LogItem> refs) {
        Set<String> out = new LinkedHashSet<>();
        for (TreeLog.LogItem i : refs) out.addAll(parse(i.key(), ByteBuffer.wrap(i.data()), 0, i.data().length));
        return out;
    }

    /** The names of inode {@code ino} in {@code tree}, as {@link #parse} writes them. */
    static Set<String> names(BTree tree, long ino) throws FsException {
        Set<String> before = new LinkedHashSet<>();
        tree.scan(new Key(ino, KeyType.INODE_REF, 0), Key.last(ino, KeyType.INODE_EXTREF),
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
