package jbtrfs.fuse;

import java.io.IOException;
import java.util.List;
import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import jbtrfs.ReadStats;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsInfo;

/**
 * Binds fs-core's figures to meters: checksum failures and mirror retries, corrupt blocks, the tree block cache,
 * space by block group type; plus Micrometer's JVM and process binders.
 */
final class FilesystemMeters {
    private FilesystemMeters() {
    }

    static void bind(Filesystem fs, MeterRegistry registry) {
        ReadStats s = fs.stats();
        counter(registry, "jbtrfs.checksum.failures", "kind", "data", s, ReadStats::dataChecksumFailures);
        counter(registry, "jbtrfs.checksum.failures", "kind", "metadata", s, ReadStats::metadataChecksumFailures);
        counter(registry, "jbtrfs.mirror.retries", null, null, s, ReadStats::mirrorRetries);
        counter(registry, "jbtrfs.corrupt.blocks", null, null, s, ReadStats::corruptBlocks);
        counter(registry, "jbtrfs.tree.block.cache", "result", "hit", s, ReadStats::treeBlockCacheHits);
        counter(registry, "jbtrfs.tree.block.cache", "result", "miss", s, ReadStats::treeBlockCacheMisses);
        for (String type : List.of("DATA", "METADATA", "SYSTEM", "DATA+METADATA")) {
            space(registry, fs, type, "used", g -> (double) g.usedBytes());
            space(registry, fs, type, "free", g -> (double) (g.totalBytes() - g.usedBytes()));
        }
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
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
            } catch (IOException e) {
                return Double.NaN;
            }
        }).tag("type", type).tag("state", state).baseUnit("bytes").description("space in block groups")
                .register(r);
    }
}
