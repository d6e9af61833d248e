package jbtrfs.fuse;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import jbtrfs.ReadStats;
import jbtrfs.fs.CommitReport;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsInfo;

/**
 * Binds fs-core's figures to meters: checksum failures and mirror retries, corrupt blocks, the tree block cache,
 * space by block group type; and, where the meters are served, Micrometer's JVM and process binders.
 */
final class FilesystemMeters {
    private FilesystemMeters() {
    }

    static void bind(Filesystem fs, MeterRegistry registry) {
        ReadStats s = fs.stats();
        counter(registry, "jbtrfs.checksum.failures", "kind", "data", s, ReadStats::dataChecksumFailures);
        counter(registry, "jbtrfs.checksum.failures", "kind", "metadata", s, ReadStats::metadataChecksumFailures);
        counter(registry, "jbtrfs.mirror.retries", null, null, s, ReadStats::mirrorRetries);
        counter(registry, "jbtrfs.read.repairs", null, null, s, ReadStats::readRepairs);
        counter(registry, "jbtrfs.corrupt.blocks", null, null, s, ReadStats::corruptBlocks);
        counter(registry, "jbtrfs.tree.block.cache", "result", "hit", s, ReadStats::treeBlockCacheHits);
        counter(registry, "jbtrfs.tree.block.cache", "result", "miss", s, ReadStats::treeBlockCacheMisses);
        for (String type : List.of("DATA", "METADATA", "SYSTEM", "DATA+METADATA")) {
            space(registry, fs, type, "used", g -> (double) g.usedBytes());
            space(registry, fs, type, "free", g -> (double) (g.totalBytes() - g.usedBytes()));
        }
        bindCommits(fs, registry);
    }

    /**
     * Micrometer's JVM and process meters, for a mount that serves its meters: binding them took about 8% of a
     * mount's start before the mount was live (the management beans they load and query), for meters nobody reads.
     */
    static void bindProcess(MeterRegistry registry) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** Per commit: duration, tree blocks and bytes written, stage-one submit and stage-two wait, peak in flight. */
    private static void bindCommits(Filesystem fs, MeterRegistry r) {
        Timer commits = Timer.builder("jbtrfs.commits").description("transaction commits").register(r);
        Timer submit = Timer.builder("jbtrfs.commit.stage.submit").description("stage one: submitting every write")
                .register(r);
        Timer wait = Timer.builder("jbtrfs.commit.stage.wait").description("stage two: reaping the completions")
                .register(r);
        DistributionSummary blocks = DistributionSummary.builder("jbtrfs.commit.tree.blocks")
                .description("tree blocks written per commit").register(r);
        DistributionSummary bytes = DistributionSummary.builder("jbtrfs.commit.written").baseUnit("bytes")
                .description("bytes written per commit (every copy; RAID5/6: data and parity)").register(r);
        DistributionSummary inFlight = DistributionSummary.builder("jbtrfs.commit.inflight.peak")
                .description("most requests in flight during a commit's writeout").register(r);
        SpaceCacheMeters caches = new SpaceCacheMeters(r);
        fs.onCommit(c -> {
            if (c.spaceCaches() != null) caches.record(c.spaceCaches());
            commits.record(c.nanos(), TimeUnit.NANOSECONDS);
            submit.record(c.treeBlocks().submitNanos(), TimeUnit.NANOSECONDS);
            wait.record(c.treeBlocks().waitNanos(), TimeUnit.NANOSECONDS);
            blocks.record(c.treeBlocks().count());
            bytes.record(c.treeBlocks().bytes());
            inFlight.record(c.treeBlocks().peakInFlight());
        });
        Gauge.builder("jbtrfs.transaction.dirty", fs, Filesystem::dirtyMetadataBytes).baseUnit("bytes")
                .description("tree blocks changed by the running transaction, not yet written").register(r);
        Gauge.builder("jbtrfs.transaction.aborted", fs, f -> f.aborted() == null ? 0 : 1)
                .description("1 once a transaction was aborted (read-only since, changes after the last commit lost)")
                .register(r);
    }

    /** Per commit of a v1 space cache image: the cache writeout of the dirty block groups. */
    private static final class SpaceCacheMeters {
        private final DistributionSummary groups;
        private final DistributionSummary bytes;
        private final Timer submit;
        private final Timer wait;
        private final DistributionSummary inFlight;
        private final Counter failed;

        SpaceCacheMeters(MeterRegistry r) {
            groups = DistributionSummary.builder("jbtrfs.commit.cache.groups")
                    .description("dirty block groups whose v1 space cache a commit wrote").register(r);
            bytes = DistributionSummary.builder("jbtrfs.commit.cache.written").baseUnit("bytes")
                    .description("v1 space cache bytes written per commit (every copy)").register(r);
            submit = Timer.builder("jbtrfs.commit.cache.submit")
                    .description("stage one of the cache writeout: submitting every group's pages").register(r);
            wait = Timer.builder("jbtrfs.commit.cache.wait")
                    .description("stage two of the cache writeout: reaping the completions").register(r);
            inFlight = DistributionSummary.builder("jbtrfs.commit.cache.inflight.peak")
                    .description("most requests in flight during a commit's cache writeout").register(r);
            failed = Counter.builder("jbtrfs.commit.cache.failed")
                    .description("space caches whose write failed and were marked invalid").register(r);
        }

        void record(CommitReport.Writeout c) {
            groups.record(c.count());
            bytes.record(c.bytes());
            submit.record(c.submitNanos(), TimeUnit.NANOSECONDS);
            wait.record(c.waitNanos(), TimeUnit.NANOSECONDS);
            inFlight.record(c.peakInFlight());
            failed.increment(c.failed());
        }
    }

    private static void counter(MeterRegistry r, String name, String tag, String value, ReadStats s,
                                ToDoubleFunction<ReadStats> f) {
        FunctionCounter.Builder<ReadStats> b = FunctionCounter.builder(name, s, f);
        if (tag != null) b.tag(tag, value);
        b.register(r);
    }

    /** Bytes used or free in the block groups of one type (0 when the image has none of that type). */
    private static void space(MeterRegistry r, Filesystem fs, String type, String state,
                              ToDoubleFunction<FsInfo.BlockGroupSummary> f) {
        Gauge.builder("jbtrfs.space", fs, x -> {
            try {
                return x.blockGroups().stream().filter(g -> g.type().equals(type)).mapToDouble(f).sum();
            } catch (IOException | RuntimeException e) {
                // a read-write mount's block groups change under this read; the next scrape gets a value
                return Double.NaN;
            }
        }).tag("type", type).tag("state", state).baseUnit("bytes").description("space in block groups")
                .register(r);
    }
}
