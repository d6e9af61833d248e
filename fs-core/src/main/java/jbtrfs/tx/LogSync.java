package jbtrfs.tx;

import java.nio.ByteBuffer;

import jbtrfs.FsException;

/**
 * One log sync sealed under the write lock ({@link TransactionManager#sealLog}): its blocks went out, and it is
 * durable once a writer flushed them and wrote its superblock, or once a commit covered it
 * ({@link TransactionManager#awaitLog}).
 */
public final class LogSync {
    /** Nothing to write: what the fsync needed is durable already. */
    public static final LogSync DURABLE = new LogSync(null, null, true);

    final SuperWriter.BlocksInFlight blocks;
    /** The last commit's superblock naming the log root tree as this sync left it. */
    final ByteBuffer superBlock;
    private boolean done;
    private FsException failure;

    LogSync(SuperWriter.BlocksInFlight blocks, ByteBuffer superBlock, boolean done) {
        this.blocks = blocks;
        this.superBlock = superBlock;
        this.done = done;
    }

    synchronized void done() { done = true; }

    synchronized void fail(FsException e) {
        if (!done && failure == null) failure = e;
    }

    /** True when durable; throws why it cannot be; false while it waits for a writer. */
    synchronized boolean finished() throws FsException {
        if (failure != null) throw failure;
        return done;
    }
}
