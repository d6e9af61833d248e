package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.volumes.Volume;

/**
 * The log syncs sealed under the write lock and waiting for their I/O, in the order they were sealed (≈ the
 * kernel's log_mutex with fsyncs joined into one btrfs_sync_log). Whoever holds {@link #io} first writes every
 * sealed sync at once: waits for their blocks, then one flush, the last one's superblock, one flush; the others
 * find theirs done. A commit holds {@link #io} throughout, so no log superblock lands between its writes, and it
 * makes every sync sealed before it durable.
 */
final class LogSyncs {
    private static final Logger LOG = LoggerFactory.getLogger(LogSyncs.class);

    /** Held while a log sync's I/O runs, and by a commit from start to end. */
    final ReentrantLock io = new ReentrantLock();
    /** Sealed and not yet taken by a writer; guarded by {@code this}. */
    private final ArrayDeque<LogSync> sealed = new ArrayDeque<>();
    /** Set once a log sync's writes failed: the log on disk may lack blocks later syncs point at. */
    private FsException broken;

    /** The blocks of a sync went out; it waits to be written in order. */
    synchronized LogSync seal(SuperWriter.BlocksInFlight blocks, ByteBuffer superBlock) {
        LogSync s = new LogSync(blocks, superBlock, false);
        if (broken != null) s.fail(broken);
        else sealed.add(s);
        return s;
    }

    /** Every sealed sync not yet taken (the caller holds {@link #io} and writes them). */
    synchronized List<LogSync> take() {
        List<LogSync> out = new ArrayList<>(sealed);
        sealed.clear();
        return out;
    }

    /** A log sync's writes failed: those taken and every one sealed since fail with {@code e}, as do later ones. */
    synchronized void fail(List<LogSync> taken, FsException e) {
        broken = e;
        for (LogSync s : taken) s.fail(e);
        for (LogSync s : sealed) s.fail(e);
        sealed.clear();
    }

    /** Why log syncs fail, or null. */
    synchronized FsException broken() { return broken; }

    /**
     * A commit (holding {@link #io}) begins: the sealed syncs' block writes are waited for, as the commit frees
     * their space once it is on disk. Returns them: they are durable when the commit is.
     */
    List<LogSync> beforeCommit() {
        List<LogSync> waiting = take();
        for (LogSync s : waiting) {
            try {
                Volume.await(s.blocks.batches());
            } catch (IOException e) {
                // the commit makes the log needless; only a late write into reused space would harm
                LOG.debug("a log block write failed before a commit made it needless", e);
            }
        }
        return waiting;
    }
}
