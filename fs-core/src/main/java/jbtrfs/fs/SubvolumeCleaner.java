package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.tx.SnapshotDrop;
import jbtrfs.tx.Transaction;

/**
 * Drops deleted subvolumes in the background (≈ the cleaner thread's btrfs_clean_one_deleted_snapshot, with the
 * dead roots btrfs_find_orphan_roots finds at mount): each step drops a bounded piece of a dead tree and saves where
 * it stopped in the root item's drop_progress and drop_level, and is committed, so an interrupted drop (unmount,
 * kill, power cut) resumes at the next mount. When the tree is gone its root item and orphan item go.
 */
final class SubvolumeCleaner {
    private static final Logger LOG = LoggerFactory.getLogger(SubvolumeCleaner.class);
    /** Tree blocks one step drops before it saves its progress (the kernel ends its transaction as often). */
    static final int STEP_BLOCKS = 1024;

    /** The committed root tree, where the dead roots are found. */
    interface RootTree {
        BTree get() throws FsException;
    }

    /** Runs {@link #dropStep} for {@code id} as one change and commits it; returns whether the tree is gone. */
    interface Step {
        boolean run(long id) throws FsException;
    }

    private final RootTree rootTree;
    private final Step step;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "jbtrfs-cleaner");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean queued = new AtomicBoolean();
    private volatile boolean stopped;

    SubvolumeCleaner(RootTree rootTree, Step step) {
        this.rootTree = rootTree;
        this.step = step;
    }

    /** Starts dropping whatever dead subvolumes the last commit left, unless a run is queued already. */
    void wake() {
        if (stopped || !queued.compareAndSet(false, true)) return;
        thread.execute(this::run);
    }

    /** Waits until every drop woken before has finished or stopped. */
    void awaitIdle() throws InterruptedException {
        try {
            thread.submit(() -> { }).get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Stops after the step under way (unmount): its progress is in the root item for the next mount. */
    void stop() {
        stopped = true;
        thread.shutdown();
        try {
            thread.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        queued.set(false);
        try {
            for (long id = nextDeadRoot(rootTree.get()); id != 0 && !stopped; id = nextDeadRoot(rootTree.get())) {
                while (!stopped && !step.run(id)) {
                    // each step is committed; the next goes on from its drop_progress
                }
            }
        } catch (TransactionAbortedException e) {
            // the abort logged its one line; the drop resumes at the next mount
        } catch (FsException | RuntimeException e) {
            LOG.error("dropping deleted subvolumes stopped: {}", e.getMessage());
        }
    }

    /** The first subvolume whose orphan item in {@code rootTree} names a root item with no references, or 0. */
    static long nextDeadRoot(BTree rootTree) throws FsException {
        Cursor c = rootTree.seek(Key.first(ObjectIds.ORPHAN, KeyType.ORPHAN_ITEM));
        while (c.valid() && c.key().objectid() == ObjectIds.ORPHAN && c.key().type() == KeyType.ORPHAN_ITEM) {
            long id = c.key().offset();
            Cursor r = rootTree.seekFloor(Key.last(id, KeyType.ROOT_ITEM));
            if (ObjectIds.isSubvolume(id) && r.valid() && r.key().objectid() == id
                    && r.key().type() == KeyType.ROOT_ITEM && r.decode(RootItem::read).refs() == 0) {
                return id;
            }
            c.next();
        }
        return 0;
    }

    /**
     * One step of dropping dead subvolume {@code id} in the running transaction: about {@code budget} tree blocks,
     * then drop_progress and drop_level saved, or, when the tree is gone, its root item and orphan item deleted.
     * Returns whether the tree is gone.
     */
    static boolean dropStep(InodeWriter w, SubvolumeWriter subvols, long id, int budget) throws FsException {
        SubvolumeWriter.RawRootItem raw = subvols.rawRootItem(id);
        if (raw == null || raw.decode().refs() != 0) return true;
        RootItem item = raw.decode();
        w.reserveMetadata(8);
        Transaction tx = w.tx();
        TreeRoot root = new TreeRoot(id, item.bytenr(), item.level(), item.generation());
        SnapshotDrop.Progress p = SnapshotDrop.step(tx, id, raw.key().offset(), root, item.dropStarted() ? item.dropProgress() : null,
                item.dropLevel(), budget);
        TreeRoot rootTree = w.root(ObjectIds.ROOT_TREE);
        if (p.done()) {
            tx.forgetTree(id);
            tx.editor().delete(rootTree, raw.key());
            tx.editor().delete(rootTree, new Key(ObjectIds.ORPHAN, KeyType.ORPHAN_ITEM, id));
            LOG.info("dropped deleted subvolume {}", id);
            return true;
        }
        ByteBuffer b = raw.buffer();
        p.key().write(b, RootItem.OFFSET_DROP_PROGRESS);
        b.put(RootItem.OFFSET_DROP_LEVEL, (byte) p.level());
        tx.editor().put(rootTree, raw.key(), raw.bytes());
        return false;
    }
}
