package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.format.ObjectIds;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;
import jbtrfs.tx.TreeLog;

/**
 * An fsync of a regular file as the kernel's btrfs_log_inode makes it: the file's items that changed in this
 * transaction ({@link InodeLogScan}) go into the subvolume's log tree with the checksums of the extents this
 * transaction wrote, then one log sync. A new file, or a file with new names, is logged too when each new name
 * goes into a directory of the last commit where the name is free (the replay adds the name from the inode ref, as
 * the kernel's add_inode_ref does). Anything else is the caller's full commit: a name removed or renamed, a
 * subvolume made in this transaction, a directory, a log too big; the kernel falls back in such cases or logs
 * the directories too, which we do not.
 */
final class FsyncLog {
    /** Changed items of one inode past which a full commit is cheaper than copying them. */
    static final int MAX_ITEMS = 4096;

    private final TransactionManager txm;
    private final boolean noHoles;
    /** Where each file's last log in the running transaction left off. */
    private final Map<InodeId, InodeLogScan.Logged> logged = new HashMap<>();
    /** Fsyncs that fell back to a full commit, by why (tests and meters read them). */
    private final Map<Fallback, Long> fallbacks = new EnumMap<>(Fallback.class);

    /** Why an fsync could not be logged. */
    enum Fallback {
        /** a subvolume made in this transaction */
        NEW_SUBVOLUME,
        /** a directory, a symlink or a special file */
        NOT_A_FILE,
        /** an item we do not log, or a damaged one */
        UNSUPPORTED_ITEM,
        /** more changed items than {@link #MAX_ITEMS} */
        TOO_BIG,
        /** a name removed or renamed, or a new name in a directory the last commit lacks or where it is taken */
        NAMES
    }

    FsyncLog(TransactionManager txm, boolean noHoles) {
        this.txm = txm;
        this.noHoles = noHoles;
    }

    /**
     * Makes {@code file}'s changes since the last commit durable through the log; false when only a full commit
     * can (then nothing was logged). Called under the write lock.
     */
    boolean fsync(InodeId file) throws FsException {
        Transaction tx = txm.running();
        if (tx == null || tx.isEmpty()) return true; // nothing changed since the last commit
        BTree live = tx.tree(file.root());
        if (live == null) return true; // nothing in this subvolume changed
        BTree committed;
        try {
            committed = txm.committedTree(file.root());
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) return fallBack(Fallback.NEW_SUBVOLUME);
            throw e;
        }
        long ino = file.objectid();
        Key inodeKey = new Key(ino, KeyType.INODE_ITEM, 0);
        Cursor c = live.find(inodeKey);
        if (c == null) return fallBack(Fallback.NOT_A_FILE);
        InodeItem inode = c.decode((b, off, size) -> InodeItem.read(b, off));
        if ((inode.mode() & Stat.S_IFMT) != Stat.S_IFREG) return fallBack(Fallback.NOT_A_FILE);
        Cursor old = committed.find(inodeKey);
        if (old != null && old.dataSize() == c.dataSize()
                && old.buffer().slice(old.dataOffset(), old.dataSize())
                .equals(c.buffer().slice(c.dataOffset(), c.dataSize()))) {
            return true; // the inode did not change since the last commit
        }
        long seq = tx.changeSequence();
        InodeLogScan.Logged last = logged.get(file);
        if (last != null && last.transid() != tx.transid()) {
            logged.clear(); // a commit dropped the log those were in
            last = null;
        }
        InodeLogScan scan = InodeLogScan.of(tx, live, ino, noHoles, inode.size(), txm.sectorsize(), last);
        if (scan.unsupported) return fallBack(Fallback.UNSUPPORTED_ITEM);
        if (scan.items > MAX_ITEMS) return fallBack(Fallback.TOO_BIG);
        if (!namesLoggable(scan.names, committed, ino)) return fallBack(Fallback.NAMES);
        TreeLog log = txm.treeLog();
        logged.remove(file); // until this log is written, what the log holds of the file is unknown
        for (InodeLogScan.Piece p : scan.pieces) {
            if (p.refresh()) log.setItems(file.root(), p.from(), p.to(ino), p.items());
        }
        BTree csums = tx.tree(ObjectIds.CSUM_TREE);
        if (csums == null) csums = txm.committedTree(ObjectIds.CSUM_TREE);
        for (FileExtentItem fe : scan.extents) {
            // extents older than this transaction have their checksums in the committed csum tree already
            if (fe.isPrealloc() || fe.generation() != tx.transid()) continue;
            long start = fe.compression() != 0 ? fe.diskBytenr() : fe.diskBytenr() + fe.offset();
            long end = fe.compression() != 0 ? fe.diskBytenr() + fe.diskNumBytes() : start + fe.numBytes();
            log.setCsums(file.root(), start, end, txm.csums().read(csums, start, end));
        }
        txm.syncLog();
        logged.put(file, new InodeLogScan.Logged(tx.transid(), seq, scan.pieces));
        return true;
    }

    private boolean fallBack(Fallback why) {
        synchronized (fallbacks) {
            fallbacks.merge(why, 1L, Long::sum);
        }
        return false;
    }

    /** The fsyncs that fell back to a full commit since open, by why. */
    Map<Fallback, Long> fallbacks() {
        synchronized (fallbacks) {
            return Map.copyOf(fallbacks);
        }
    }

    /**
     * Whether the replay of {@code names} gives the file exactly its names now: every committed name is still
     * there (the replay removes none), and each new one goes into a committed directory where it is free.
     */
    private static boolean namesLoggable(List<TreeLog.LogItem> names, BTree committed, long ino) throws FsException {
        if (names.isEmpty()) return false; // unlinked: the orphan goes with the commit
        Set<String> now = new HashSet<>();
        for (TreeLog.LogItem n : names) now.addAll(parse(n.key(), ByteBuffer.wrap(n.data()), 0, n.data().length));
        Set<String> before = new HashSet<>();
        committed.scan(new Key(ino, KeyType.INODE_REF, 0), Key.last(ino, KeyType.INODE_EXTREF),
                (key, leaf, off, size) -> {
                    before.addAll(parse(key, leaf, off, size));
                    return true;
                });
        if (!now.containsAll(before)) return false;
        for (String name : now) {
            if (before.contains(name)) continue;
            String[] p = name.split("/", 3);
            long parent = Long.parseLong(p[0]);
            byte[] bytes = HexFormat.of().parseHex(p[2]);
            if (committed.find(new Key(parent, KeyType.INODE_ITEM, 0)) == null) return false;
            if (committed.find(new Key(parent, KeyType.DIR_ITEM, NameHash.of(bytes))) != null) return false;
        }
        return true;
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
            return List.of("damaged"); // never equal to a real name: the commit path reports it
        }
    }
}
