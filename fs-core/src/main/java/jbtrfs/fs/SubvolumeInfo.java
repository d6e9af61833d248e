package jbtrfs.fs;

import jbtrfs.format.RootItem;
import jbtrfs.format.Timespec;

/**
 * A subvolume as BTRFS_IOC_GET_SUBVOL_INFO reports it (struct btrfs_ioctl_get_subvol_info_args): its root item's
 * fields and, except for the top level (5, which has no name, parent 0, dirid 0), its ROOT_BACKREF's.
 *
 * @param treeId   the subvolume's tree id
 * @param name     its name in the parent directory (at most 255 bytes)
 * @param parentId the tree id of the subvolume holding that directory
 * @param dirId    the inode number of that directory in the parent subvolume
 * @param flags    the root item's flags ({@link RootItem#FLAG_SUBVOL_RDONLY})
 * @param uuid     16 bytes each, zeros where unset
 */
public record SubvolumeInfo(long treeId, String name, long parentId, long dirId, long generation, long flags,
                            byte[] uuid, byte[] parentUuid, byte[] receivedUuid, long ctransid, long otransid,
                            long stransid, long rtransid, Timespec ctime, Timespec otime, Timespec stime,
                            Timespec rtime) {

    public boolean readOnly() { return (flags & RootItem.FLAG_SUBVOL_RDONLY) != 0; }
}
