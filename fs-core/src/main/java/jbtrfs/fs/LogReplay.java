package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.Features;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.tx.CsumItems;
import jbtrfs.tx.DataRefs;
import jbtrfs.tx.TransactionManager;

/**
 * Replays the kernel's log trees into the subvolume trees at a read-write mount, then commits without the log
 * (≈ btrfs_recover_log_trees). Each subvolume's log is walked in the kernel's passes: inode items (with the
 * xattrs and directory names they no longer have, and truncation to i_size), dir indexes, then xattrs, inode refs
 * and file extents; link counts are recounted last. Entry point: {@link #replay}.
 */
public final class LogReplay {
    private static final Logger LOG = LoggerFactory.getLogger(LogReplay.class);

    /**
     * What a replay did: subvolumes with a log, inode items replayed, names added and removed, file extents; the
     * log's tree blocks kept out of the free space until the commit, and its data extents the replay recorded.
     */
    public record Report(int subvolumes, int inodes, int namesAdded, int namesRemoved, int extents, int logBlocks,
                         int logExtents) {
    }

    /** The kernel's walk stages after LOG_WALK_PIN_ONLY (which {@link LogTrees#exclude} is). */
    private enum Stage { INODES, DIR_INDEX, ALL }

    /** Inode item fields the replay patches in the log's bytes (the kernel copies the item, reserved bytes too). */
    private static final int OFFSET_GENERATION = 0;
    private static final int OFFSET_SIZE = 16;
    private static final int OFFSET_NBYTES = 24;

    private final InodeWriter w;
    private final FileExtents files;
    private final LogTrees logs;
    private final boolean noHoles;
    private final boolean extendedRefs;
    private final Set<Long> createdExtents = new HashSet<>();
    private int inodes;
    private int extents;
    private int added;
    private int removed;

    private LogReplay(InodeWriter w, LogTrees logs, boolean noHoles, boolean extendedRefs) {
        this.w = w;
        this.extendedRefs = extendedRefs;
        this.files = new FileExtents(w);
        this.logs = logs;
        this.noHoles = noHoles;
    }

    /**
     * Replays the log of an image whose superblock has one (log_root != 0) and commits: the superblock then has
     * log_root 0 and the log's blocks are free. Runs on the read-write stack right after {@code txm} is made,
     * before anything allocates. {@link Errno#EINVAL} with one line when the log cannot be read or replayed (the
     * transaction is then aborted and nothing was written).
     */
    static Report replay(SuperBlock sb, TreeBlockReader reader, TransactionManager txm, Subvolumes subvolumes,
                         boolean noHoles, Clock clock) throws FsException {
        LogTrees logs = LogTrees.read(sb, reader);
        LogReplay r = new LogReplay(new InodeWriter(txm, subvolumes, clock), logs, noHoles,
                (sb.incompatFlags() & Features.INCOMPAT_EXTENDED_IREF) != 0);
        try {
            logs.exclude(txm.blockGroups(), txm.committedTree(ObjectIds.EXTENT_TREE), sb.nodesize());
            for (LogTrees.Log log : logs.logs()) r.replay(log);
            r.releaseUnreferenced(txm);
            txm.current().mustCommit();
        } catch (FsException | RuntimeException e) {
            txm.abort("log replay", e);
            String why = e instanceof FsException ? e.getMessage() : "internal error: " + e.getClass().getSimpleName();
            throw new FsException(Errno.EINVAL, "cannot replay the log tree: " + why);
        }
        txm.commit();
        subvolumes.committed(txm.committedTree(ObjectIds.ROOT_TREE));
        Report report = new Report(logs.logs().size(), r.inodes, r.added, r.removed, r.extents, logs.blockCount(),
                r.createdExtents.size());
        LOG.info("replayed the log tree: {} subvolume(s), {} inode(s), {} name(s) added, {} removed, {} extent(s)",
                report.subvolumes(), report.inodes(), report.namesAdded(), report.namesRemoved(), report.extents());
        return report;
    }

    /** One subvolume's log, pass by pass. */
    private void replay(LogTrees.Log log) throws FsException {
        long root = log.subvolume();
        try {
            w.root(root);
        } catch (FsException e) {
            // a subvolume deleted after the fsync: the kernel drops its log too
            if (e.errno() != Errno.ENOENT) throw e;
            LOG.info("the log of subvolume {} is dropped: the subvolume is gone", root);
            return;
        }
        Set<Long> fixups = new LinkedHashSet<>();
        Set<Long> ignored = new HashSet<>();
        LogNames names = new LogNames(w, root, log.tree(), fixups, extendedRefs);
        LogRefs refs = new LogRefs(names, log.tree(), root);
        for (Stage stage : Stage.values()) {
            Cursor c = log.tree().seek(Key.first(0, 0));
            while (c.valid()) {
                Key k = c.key();
                if (!ignored.contains(k.objectid())) replayItem(stage, root, log.tree(), names, refs, ignored, c);
                c.next();
            }
        }
        names.fixupLinkCounts();
        added += names.added();
        removed += names.removed();
    }

    private void replayItem(Stage stage, long root, BTree log, LogNames names, LogRefs refs, Set<Long> ignored,
                            Cursor c)
            throws FsException {
        Key k = c.key();
        switch (stage) {
            case INODES -> {
                if (k.type() == KeyType.INODE_ITEM) replayInode(root, log, names, ignored, k, LogNames.bytes(c));
            }
            case DIR_INDEX -> {
                if (k.type() == KeyType.DIR_INDEX) names.replayDirIndex(k, LogNames.bytes(c));
            }
            case ALL -> {
                switch (k.type()) {
                    case KeyType.XATTR_ITEM -> w.tx().editor().put(w.root(root), k, LogNames.bytes(c));
                    case KeyType.INODE_REF, KeyType.INODE_EXTREF -> refs.replay(k, LogNames.bytes(c));
                    case KeyType.EXTENT_DATA -> replayExtent(root, log, k, c.decode(FileExtentItem::read),
                            LogNames.bytes(c));
                    default -> { }
                }
            }
        }
    }

    // ---- inode items ----

    /**
     * An inode item of the log (overwrite_item): copied over the subvolume's, but nbytes stays the subvolume's
     * (the replayed extents correct it) and a directory keeps its size (the names replayed correct it); a logged
     * generation 0 only says the inode exists. A regular file loses what lies past its size.
     */
    private void replayInode(long root, BTree log, LogNames names, Set<Long> ignored, Key k, byte[] logged)
            throws FsException {
        long ino = k.objectid();
        InodeItem item = InodeItem.read(LogNames.le(logged), 0);
        if (item.nlink() == 0) {
            // an O_TMPFILE that was fsynced and never linked: nothing of it is replayed
            ignored.add(ino);
            return;
        }
        InodeId id = new InodeId(root, ino);
        replayXattrDeletes(root, log, ino);
        boolean dir = (item.mode() & Stat.S_IFMT) == Stat.S_IFDIR;
        if (dir) names.replayDirDeletes(ino, false);
        Cursor existing = w.tree(root).find(new Key(ino, KeyType.INODE_ITEM, 0));
        InodeItem old = existing == null ? null : existing.decode(InodeItem.SIZE, InodeItem::read);
        ByteBuffer b = LogNames.le(logged.clone());
        if (old != null && item.generation() == 0) {
            if ((item.mode() & Stat.S_IFMT) == Stat.S_IFREG && (old.mode() & Stat.S_IFMT) == Stat.S_IFREG
                    && item.size() != 0) {
                w.tx().editor().put(w.root(root), k, old.withSize(item.size()).encode());
            }
        } else {
            b.putLong(OFFSET_NBYTES, old == null ? 0 : old.nbytes());
            if (dir) b.putLong(OFFSET_SIZE, old != null && (old.mode() & Stat.S_IFMT) == Stat.S_IFDIR ? old.size() : 0);
            if (b.getLong(OFFSET_GENERATION) == 0) b.putLong(OFFSET_GENERATION, w.transid());
            w.tx().editor().put(w.root(root), k, b.array());
        }
        if ((item.mode() & Stat.S_IFMT) == Stat.S_IFREG) {
            InodeItem now = w.load(id);
            long gone = files.drop(id, FileOffsets.roundUp(now.size(), w.sectorsize()), FileOffsets.TO_END);
            if (gone != 0) putInode(id, w.load(id).withNbytes(now.nbytes() - gone));
        }
        names.linkToFixup(ino);
        inodes++;
    }

    /** The xattr items of a logged inode that the log does not hold go (replay_xattr_deletes). */
    private void replayXattrDeletes(long root, BTree log, long ino) throws FsException {
        List<Key> gone = new ArrayList<>();
        Cursor c = w.tree(root).seek(Key.first(ino, KeyType.XATTR_ITEM));
        while (c.valid() && c.key().objectid() == ino && c.key().type() == KeyType.XATTR_ITEM) {
            if (log.find(c.key()) == null) gone.add(c.key());
            c.next();
        }
        for (Key k : gone) w.tx().editor().delete(w.root(root), k);
    }

    /** Writes an inode item as replay changes it (no new transid or sequence: the log's values stand). */
    private void putInode(InodeId id, InodeItem item) throws FsException {
        w.tx().editor().put(w.root(id.root()), new Key(id.objectid(), KeyType.INODE_ITEM, 0), item.encode());
    }

    // ---- file extents ----

    /**
     * A file extent item of the log (replay_one_extent): what overlaps it in the file goes, the item is copied,
     * its extent gains the reference (and its extent item when the extent tree lacks it), its checksums come from
     * the log, and the inode's nbytes follows.
     */
    private void replayExtent(long root, BTree log, Key k, FileExtentItem fe, byte[] logged) throws FsException {
        InodeId id = new InodeId(root, k.objectid());
        long start = k.offset();
        long end;
        long bytes;
        if (fe.isInline()) {
            end = FileOffsets.roundUp(start + fe.ramBytes(), w.sectorsize());
            bytes = fe.ramBytes();
        } else {
            end = start + fe.numBytes();
            bytes = fe.diskBytenr() == 0 ? 0 : fe.numBytes();
            Cursor same = w.tree(root).find(k);
            if (same != null && same.dataSize() >= FileExtentItem.SIZE_REGULAR && Arrays.equals(
                    LogNames.bytes(same), 0, FileExtentItem.SIZE_REGULAR, logged, 0, FileExtentItem.SIZE_REGULAR)) {
                return;
            }
        }
        if (w.tree(root).find(new Key(k.objectid(), KeyType.INODE_ITEM, 0)) == null) {
            throw new FsException(Errno.EINVAL, "the log has file extents of inode " + k.objectid()
                    + " of subvolume " + root + ", which neither the log nor the subvolume holds");
        }
        long nbytes = w.load(id).nbytes() - files.drop(id, start, end);
        TreeRoot r = w.root(root);
        if (fe.isInline()) {
            w.tx().editor().put(r, k, logged);
        } else if (fe.diskBytenr() != 0 || !noHoles) {
            w.tx().editor().put(r, k, logged);
            if (fe.diskBytenr() != 0) {
                reference(root, k, fe);
                copyCsums(log, fe);
            }
        }
        putInode(id, w.load(id).withNbytes(nbytes + bytes));
        extents++;
    }

    /** The file extent's reference; a log-only extent gets its extent item with it (btrfs_alloc_logged_file_extent). */
    private void reference(long root, Key k, FileExtentItem fe) throws FsException {
        DataRefs refs = w.tx().dataRefs();
        if (logs.unrecorded(fe.diskBytenr()) && createdExtents.add(fe.diskBytenr())) {
            refs.created(fe.diskBytenr(), fe.diskNumBytes());
        }
        refs.change(fe.diskBytenr(), fe.diskNumBytes(), new DataRefs.Ref(root, k.objectid(), k.offset() - fe.offset()),
                1);
    }

    /** The checksums the log holds for the extent's range replace the csum tree's there. */
    private void copyCsums(BTree log, FileExtentItem fe) throws FsException {
        long from = fe.compression() != 0 ? fe.diskBytenr() : fe.diskBytenr() + fe.offset();
        long to = fe.compression() != 0 ? fe.diskBytenr() + fe.diskNumBytes() : from + fe.numBytes();
        int ss = w.sectorsize();
        int csumSize = w.manager().csumType().size();
        CsumItems csums = w.manager().csums();
        Cursor c = log.seekFloor(new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, from));
        if (!c.valid() || c.key().objectid() != ObjectIds.EXTENT_CSUM) {
            c = log.seek(new Key(ObjectIds.EXTENT_CSUM, KeyType.EXTENT_CSUM, from));
        }
        while (c.valid() && c.key().objectid() == ObjectIds.EXTENT_CSUM && c.key().type() == KeyType.EXTENT_CSUM) {
            long s = c.key().offset();
            if (Long.compareUnsigned(s, to) >= 0) break;
            byte[] all = LogNames.bytes(c);
            long e = s + (long) (all.length / csumSize) * ss;
            long cs = Math.max(s, from);
            long ce = Math.min(e, to);
            if (cs < ce) {
                byte[] part = Arrays.copyOfRange(all, (int) ((cs - s) / ss) * csumSize,
                        (int) ((ce - s) / ss) * csumSize);
                csums.delete(w.tx(), cs, ce - cs);
                csums.insert(w.tx(), cs, part);
            }
            c.next();
        }
    }

    /** Log-only extents no replayed item referenced: their space goes back. */
    private void releaseUnreferenced(TransactionManager txm) {
        for (Map.Entry<Long, Long> e : logs.unrecordedExtents().entrySet()) {
            if (!createdExtents.contains(e.getKey())) txm.blockGroups().release(e.getKey(), e.getValue());
        }
    }
}
