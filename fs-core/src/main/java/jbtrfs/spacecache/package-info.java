/**
 * The v1 space cache (space_cache=v1): per block group of 100 MiB or more, a file in the root tree holding the
 * group's free extents and bitmaps in checksummed pages, so a mount need not walk the extent tree to find free
 * space. {@link jbtrfs.spacecache.SpaceCachePages} is the page format, {@link jbtrfs.spacecache.SpaceCacheLoader}
 * reads and validates caches at mount; the commit writes them ({@code jbtrfs.tx.SpaceCacheWriter}).
 */
package jbtrfs.spacecache;
