package jbtrfs.tx;

/**
 * How a commit hands over its caller's locks: it settles the trees under the caller's write lock, then
 * {@link #downgrade}s to the read lock for its I/O, so reads go on beside the writeout while the caller keeps every
 * change out, and {@link #upgrade}s again before the written state becomes the committed one.
 */
public interface CommitLocks {
    /** The caller holds its write lock throughout (a commit inside a change). */
    CommitLocks HELD = new CommitLocks() {
        @Override
        public void downgrade() {
        }

        @Override
        public void upgrade() {
        }
    };

    /** Write lock to read lock, before the writeout. */
    void downgrade();

    /** Read lock to write lock, after the writeout, whether it succeeded or failed. */
    void upgrade();
}
