package jbtrfs.fs;

/**
 * What one commit did, for meters and tools outside fs-core (so they need no tx type).
 *
 * @param transid     the committed transaction
 * @param nanos       the whole commit, wall time
 * @param treeBlocks  the tree block writeout
 * @param spaceCaches the v1 space cache writeout of the dirty block groups; null without the v1 cache
 */
public record CommitReport(long transid, long nanos, Writeout treeBlocks, Writeout spaceCaches) {
    /**
     * Figures of one two-stage writeout.
     *
     * @param count        tree blocks, or block groups whose cache was written
     * @param bytes        bytes written, every copy
     * @param peakInFlight most requests in flight at once
     * @param submitNanos  stage one: submitting every write
     * @param waitNanos    stage two: reaping the completions
     * @param failed       block groups whose cache write failed and was marked invalid (0 for tree blocks, whose
     *                     failure aborts the commit)
     */
    public record Writeout(int count, long bytes, int peakInFlight, long submitNanos, long waitNanos, int failed) {
    }
}
