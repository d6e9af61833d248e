package jbtrfs.fs;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import jbtrfs.compress.CompressionType;
import jbtrfs.device.Backend;

/**
 * How the filesystem is opened.
 *
 * @param readOnly never write to the image
 * @param subvol   path from the top level of the subvolume to show at the mountpoint (the kernel's subvol=), or null
 * @param subvolid id of the subvolume to show (the kernel's subvolid=), or 0; without either, the default subvolume
 * @param deviceBackend how the image is read; null for buffered positional reads (nio), whose page-cache readahead
 *                      serves FUSE's 128 KiB requests best
 * @param commitSeconds how often a read-write mount commits (the kernel's commit=, default 30; 0 never by time)
 * @param spaceCache    the kernel's space_cache=v1|v2 / nospace_cache; null: what the image has
 * @param clearCache    the kernel's clear_cache: distrust every v1 space cache and write new ones
 * @param serialWriteout write the v1 space caches one block group at a time (submit, wait, next), for comparison
 *                       with the default two-stage writeout (-o writeout=serial)
 * @param compression   the kernel's compress= / compress-force=: how writes are compressed; null: not at all (but
 *                      for files flagged +c, which get zlib as on the kernel)
 * @param evictingTransport the transport tells the filesystem when it forgets an inode ({@link FsOperations#evict}):
 *                      an inode whose last name goes lives on with an orphan item until then, as on the kernel; off
 *                      (libfuse, which hides open-unlinked files under .fuse_hidden names), it is freed at once
 * @param noLogReplay   the kernel's nologreplay: a read-only mount of an image with a log tree shows the last commit
 *                      rather than replaying the log (in memory); a read-write open refuses it
 * @param devices       the other devices of a multi-device filesystem (the kernel's device=), in any order
 * @param degraded      the kernel's degraded: mount with devices missing where every chunk keeps enough stripes
 * @param noTreeLog     the kernel's notreelog: every fsync and fdatasync is a full commit, no log tree is written
 */
public record MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend, int commitSeconds,
                           SpaceCache spaceCache, boolean clearCache, boolean serialWriteout,
                           Compression compression, boolean evictingTransport, boolean noLogReplay,
                           List<Path> devices, boolean degraded, boolean noTreeLog) {
    public static final int DEFAULT_COMMIT_SECONDS = 30;

    /** How free space is kept on disk. */
    public enum SpaceCache { V1, V2, NONE }

    /**
     * A compress mount option: the algorithm, its level (zlib 1-9; zstd's is parsed and checked but writes use
     * level 3, the only one our compressor has; lzo has none), and whether compress-force tries every write, even
     * of files whose earlier writes did not compress.
     */
    public record Compression(CompressionType type, int level, boolean force) {
        public Compression {
            if (type == null || type == CompressionType.NONE) {
                throw new IllegalArgumentException("no compression type");
            }
        }
    }

    public MountOptions {
        devices = devices == null ? List.of() : List.copyOf(devices);
    }

    public MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend) {
        this(readOnly, subvol, subvolid, deviceBackend, DEFAULT_COMMIT_SECONDS, null, false, false, null, false, false,
                List.of(), false, false);
    }

    public MountOptions(boolean readOnly) {
        this(readOnly, null, 0, null);
    }

    public static MountOptions readWriteDefaults() { return new MountOptions(false); }

    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }

    public MountOptions withCommitSeconds(int seconds) { return with(c -> c.commitSeconds = seconds); }

    public MountOptions withSubvol(String path) { return with(c -> c.subvol = path); }

    public MountOptions withSubvolid(long id) { return with(c -> c.subvolid = id); }

    public MountOptions withDeviceBackend(Backend b) { return with(c -> c.deviceBackend = b); }

    public MountOptions withSpaceCache(SpaceCache mode, boolean clear) {
        return with(c -> {
            c.spaceCache = mode;
            c.clearCache = clear;
        });
    }

    public MountOptions withSerialWriteout(boolean serial) { return with(c -> c.serialWriteout = serial); }

    public MountOptions withCompression(Compression compress) { return with(c -> c.compression = compress); }

    public MountOptions withEvictingTransport(boolean evicting) { return with(c -> c.evictingTransport = evicting); }

    public MountOptions withNoLogReplay(boolean no) { return with(c -> c.noLogReplay = no); }

    /** The other devices of the filesystem (device=), and whether it may mount with some missing (degraded). */
    public MountOptions withDevices(List<Path> paths, boolean degraded) {
        return with(c -> {
            c.devices = paths;
            c.degraded = degraded;
        });
    }

    public MountOptions withNoTreeLog(boolean no) { return with(c -> c.noTreeLog = no); }

    /** The same options, read-write or read-only as {@code ro} says. */
    public MountOptions withReadOnly(boolean ro) { return with(c -> c.readOnly = ro); }

    /** A copy with {@code change} applied: one place lists the fields, not one per with-er. */
    private MountOptions with(Consumer<Copy> change) {
        Copy c = new Copy(this);
        change.accept(c);
        return c.build();
    }

    /** The fields of a MountOptions, open to change. */
    private static final class Copy {
        boolean readOnly;
        String subvol;
        long subvolid;
        Backend deviceBackend;
        int commitSeconds;
        SpaceCache spaceCache;
        boolean clearCache;
        boolean serialWriteout;
        Compression compression;
        boolean evictingTransport;
        boolean noLogReplay;
        List<Path> devices;
        boolean degraded;
        boolean noTreeLog;

        Copy(MountOptions o) {
            readOnly = o.readOnly;
            subvol = o.subvol;
            subvolid = o.subvolid;
            deviceBackend = o.deviceBackend;
            commitSeconds = o.commitSeconds;
            spaceCache = o.spaceCache;
            clearCache = o.clearCache;
            serialWriteout = o.serialWriteout;
            compression = o.compression;
            evictingTransport = o.evictingTransport;
            noLogReplay = o.noLogReplay;
            devices = o.devices;
            degraded = o.degraded;
            noTreeLog = o.noTreeLog;
        }

        MountOptions build() {
            return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                    serialWriteout, compression, evictingTransport, noLogReplay, devices, degraded, noTreeLog);
        }
    }
}
