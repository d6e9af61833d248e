package jbtrfs;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters of read-path events worth showing to a person or a metrics endpoint. Thread-safe. */
public final class ReadStats {
    private final AtomicLong metadataChecksumFailures = new AtomicLong();
    private final AtomicLong dataChecksumFailures = new AtomicLong();
    private final AtomicLong mirrorRetries = new AtomicLong();
    private final AtomicLong corruptBlocks = new AtomicLong();
    private final AtomicLong readRepairs = new AtomicLong();
    /** Counted on every tree block access by every worker: adders, not one contended counter. */
    private final LongAdder treeBlockCacheHits = new LongAdder();
    private final LongAdder treeBlockCacheMisses = new LongAdder();

    public void metadataChecksumFailure() { metadataChecksumFailures.incrementAndGet(); }

    public void dataChecksumFailure() { dataChecksumFailures.incrementAndGet(); }

    public void mirrorRetry() { mirrorRetries.incrementAndGet(); }

    public void corruptBlock() { corruptBlocks.incrementAndGet(); }

    /** A bad copy written over with a good one by a read (tree block or data range). */
    public void readRepair() { readRepairs.incrementAndGet(); }

    public void treeBlockCacheHit() { treeBlockCacheHits.increment(); }

    public void treeBlockCacheMiss() { treeBlockCacheMisses.increment(); }

    public long metadataChecksumFailures() { return metadataChecksumFailures.get(); }

    public long dataChecksumFailures() { return dataChecksumFailures.get(); }

    public long mirrorRetries() { return mirrorRetries.get(); }

    public long corruptBlocks() { return corruptBlocks.get(); }

    public long readRepairs() { return readRepairs.get(); }

    public long treeBlockCacheHits() { return treeBlockCacheHits.sum(); }

    public long treeBlockCacheMisses() { return treeBlockCacheMisses.sum(); }
}
