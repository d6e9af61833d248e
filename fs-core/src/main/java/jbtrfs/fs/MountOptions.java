package jbtrfs.fs;

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
 */
public record MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend, int commitSeconds,
                           SpaceCache spaceCache, boolean clearCache, boolean serialWriteout,
                           Compression compression, boolean evictingTransport) {
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

    public MountOptions(boolean readOnly, String subvol, long subvolid, Backend deviceBackend) {
        this(readOnly, subvol, subvolid, deviceBackend, DEFAULT_COMMIT_SECONDS, null, false, false, null, false);
    }

    public MountOptions(boolean readOnly) {
        this(readOnly, null, 0, null);
    }

    public static MountOptions readWriteDefaults() { return new MountOptions(false); }

    public static MountOptions readOnlyDefaults() { return new MountOptions(true); }

    public MountOptions withCommitSeconds(int seconds) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, seconds, spaceCache, clearCache,
                serialWriteout, compression, evictingTransport);
    }

    public MountOptions withSubvol(String path) {
        return new MountOptions(readOnly, path, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                serialWriteout, compression, evictingTransport);
    }

    public MountOptions withSubvolid(long id) {
        return new MountOptions(readOnly, subvol, id, deviceBackend, commitSeconds, spaceCache, clearCache,
                serialWriteout, compression, evictingTransport);
    }

    public MountOptions withDeviceBackend(Backend b) {
        return new MountOptions(readOnly, subvol, subvolid, b, commitSeconds, spaceCache, clearCache, serialWriteout,
                compression, evictingTransport);
    }

    public MountOptions withSpaceCache(SpaceCache mode, boolean clear) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, mode, clear,
                serialWriteout, compression, evictingTransport);
    }

    public MountOptions withSerialWriteout(boolean serial) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                serial, compression, evictingTransport);
    }

    public MountOptions withCompression(Compression c) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                serialWriteout, c, evictingTransport);
    }

    public MountOptions withEvictingTransport(boolean evicting) {
        return new MountOptions(readOnly, subvol, subvolid, deviceBackend, commitSeconds, spaceCache, clearCache,
                serialWriteout, compression, evicting);
    }
}
