package jbtrfs.fs;

/**
 * One directory entry in readdir order.
 *
 * @param name   the entry's name
 * @param id     the inode it names (for a subvolume, that subvolume's root directory)
 * @param type   the dirent type (DT_REG 8, DT_DIR 4, DT_LNK 10, DT_CHR 2, DT_BLK 6, DT_FIFO 1, DT_SOCK 12)
 * @param offset the readdir offset just past this entry: passing it back continues after this entry
 */
public record DirEntry(String name, InodeId id, int type, long offset) {
}
