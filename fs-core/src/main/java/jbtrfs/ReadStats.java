package jbtrfs;

import java.util.concurrent.atomic.AtomicLong;

/** Counters of read-path events worth showing to a person or a metrics endpoint. Thread-safe. */
public final class ReadStats {
    private final AtomicLong metadataChecksumFailures = new AtomicLong();
    private final AtomicLong dataChecksumFailures = new AtomicLong();
    private final AtomicLong mirrorRetries = new AtomicLong();
    private final AtomicLong corruptBlocks = new AtomicLong();
    private final AtomicLong readRepairs = new AtomicLong();
    private final AtomicLong treeBlockCacheHits = new AtomicLong();
    private final AtomicLong treeBlockCacheMisses = new AtomicLong();

    public void metadataChecksumFailure() { metadataChecksumFailures.incrementAndGet(); }

    public void dataChecksumFailure() { dataChecksumFailures.incrementAndGet(); }

    public void mirrorRetry() { mirrorRetries.incrementAndGet(); }

    public void corruptBlock() { corruptBlocks.incrementAndGet(); }

    /** A bad copy written over with a good one by a read (tree block or data range). */
    public void readRepair() { readRepairs.incrementAndGet(); }

    public void treeBlockCacheHit() { treeBlockCacheHits.incrementAndGet(); }

    public void treeBlockCacheMiss() { treeBlockCacheMisses.incrementAndGet(); }

    public long metadataChecksumFailures() { return metadataChecksumFailures.get(); }

    public long dataChecksumFailures() { return dataChecksumFailures.get(); }

    public long mirrorRetries() { return mirrorRetries.get(); }

    public long corruptBlocks() { return corruptBlocks.get(); }

    public long readRepairs() { return readRepairs.get(); }

    public long treeBlockCacheHits() { return treeBlockCacheHits.get(); }

    public long treeBlockCacheMisses() { return treeBlockCacheMisses.get(); }
}
