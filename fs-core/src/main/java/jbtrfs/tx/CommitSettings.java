package jbtrfs.tx;

/**
 * What the commit takes from the mount options (fs builds it when it opens the filesystem, so tx needs no fs type).
 *
 * @param spaceCacheV1   keep the v1 space cache (space_cache=v1); ignored when the image has a free-space tree
 * @param clearCache     distrust every v1 cache at mount (clear_cache)
 * @param serialWriteout write v1 caches one block group at a time (-o writeout=serial)
 */
public record CommitSettings(boolean spaceCacheV1, boolean clearCache, boolean serialWriteout) {
    /** What the image has: the v1 space cache unless it has a free-space tree, nothing cleared, two-stage writeout. */
    public static final CommitSettings IMAGE_DEFAULTS = new CommitSettings(true, false, false);
}
