package jbtrfs.fs;

/** What statfs(2) shows, in units of {@code blockSize}. */
public record StatFs(long blockSize, long blocks, long blocksFree, long blocksAvailable,
                     long files, long filesFree, long nameMax) {
}
