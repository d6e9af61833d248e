package jbtrfs.fs;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;

/** Which directory a mount shows at its mountpoint (the subvol= and subvolid= options, else the default). */
final class MountRoot {
    private MountRoot() {
    }

    /** The directory shown at the mountpoint: subvol= or subvolid= when given, else the default subvolume. */
    static InodeId resolve(MountOptions options, Subvolumes subvolumes, Directories directories)
            throws FsException {
        long id;
        if (options.subvolid() != 0) {
            id = options.subvolid();
        } else if (options.subvol() != null && !options.subvol().isEmpty()) {
            RootItem top = subvolumes.rootItem(ObjectIds.FS_TREE);
            InodeId cur = new InodeId(ObjectIds.FS_TREE, top.rootDirid());
            for (String part : options.subvol().split("/")) {
                if (part.isEmpty()) continue;
                try {
                    cur = directories.lookup(cur, part);
                } catch (FsException e) {
                    if (e.errno() != Errno.ENOENT) throw e;
                    throw new FsException(Errno.EINVAL, "subvol=" + options.subvol() + ": no such subvolume");
                }
            }
            RootItem item = subvolumes.rootItem(cur.root());
            if (item == null || cur.objectid() != item.rootDirid()) {
                throw new FsException(Errno.EINVAL, "subvol=" + options.subvol() + " is not a subvolume");
            }
            id = cur.root();
        } else {
            id = subvolumes.defaultSubvolume();
        }
        RootItem item = ObjectIds.isSubvolume(id) ? subvolumes.rootItem(id) : null;
        if (item == null) throw new FsException(Errno.EINVAL, "no subvolume with id " + id);
        return new InodeId(id, item.rootDirid());
    }
}
