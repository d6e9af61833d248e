package jbtrfs.fs;

import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.ctree.Cursor;
import jbtrfs.device.BlockDevice;
import jbtrfs.format.DevExtent;
import jbtrfs.format.Features;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.spacecache.SpaceCachePages;
import jbtrfs.volumes.Volume;

/**
 * What a read-write mount needs of an image; anything else is refused with one line naming it, and the image still
 * mounts read-only. We never write to an image we do not fully understand.
 */
final class WriteSupport {
    /** Incompat features whose images we write. */
    static final long INCOMPAT_WRITE_SUPPORTED = Features.INCOMPAT_MIXED_BACKREF | Features.INCOMPAT_DEFAULT_SUBVOL
            | Features.INCOMPAT_MIXED_GROUPS | Features.INCOMPAT_COMPRESS_LZO | Features.INCOMPAT_COMPRESS_ZSTD
            | Features.INCOMPAT_BIG_METADATA | Features.INCOMPAT_EXTENDED_IREF | Features.INCOMPAT_SKINNY_METADATA
            | Features.INCOMPAT_NO_HOLES | Features.INCOMPAT_METADATA_UUID
            | Features.INCOMPAT_RAID1C34 | Features.INCOMPAT_RAID56;
    static final long COMPAT_RO_WRITE_SUPPORTED = Features.COMPAT_RO_FREE_SPACE_TREE
            | Features.COMPAT_RO_FREE_SPACE_TREE_VALID | Features.COMPAT_RO_BLOCK_GROUP_TREE;

    private WriteSupport() {
    }

    /** Checks the image can be written; returns how its free space is kept (the mount options applied). */
    static MountOptions.SpaceCache check(SuperBlock sb, Subvolumes subvolumes, Volume volume, MountOptions options)
            throws FsException {
        String hint = "; mount it with --read-only";
        long incompat = sb.incompatFlags() & ~INCOMPAT_WRITE_SUPPORTED;
        if (incompat != 0) {
            throw new FsException(Errno.EINVAL, "cannot write images with incompat feature "
                    + String.join(", ", Features.incompatNames(incompat)) + hint);
        }
        long compatRo = sb.compatRoFlags() & ~COMPAT_RO_WRITE_SUPPORTED;
        if (compatRo != 0) {
            throw new FsException(Errno.EINVAL, "cannot write images with compat_ro feature "
                    + String.join(", ", Features.compatRoNames(compatRo)) + " (flags 0x" + Long.toHexString(compatRo)
                    + ")" + hint);
        }
        if (subvolumes.rootItem(ObjectIds.QUOTA_TREE) != null) {
            throw new FsException(Errno.EINVAL, "quotas are enabled; read-write with quotas is not supported" + hint);
        }
        checkDeviceBounds(subvolumes, volume, hint);
        return spaceCache(sb, options, hint);
    }

    /**
     * Everything the image places on its devices lies inside them (≈ the kernel's btrfs_verify_dev_extents, which
     * refuses any mount): every chunk stripe, every dev extent, on every member. A device smaller than the dev
     * item's total_bytes is refused for any mount already (SuperBlocks.checkSupported, as the kernel's read_one_dev).
     */
    private static void checkDeviceBounds(Subvolumes subvolumes, Volume volume, String hint)
            throws FsException {
        for (Map.Entry<Long, BlockDevice> m : volume.members().entrySet()) {
            checkDeviceBounds(m.getKey(), m.getValue().size(), subvolumes, volume, hint);
        }
    }

    private static void checkDeviceBounds(long devid, long size, Subvolumes subvolumes, Volume volume, String hint)
            throws FsException {
        String past = volume.chunks().stripePastEnd(devid, size);
        if (past != null) throw new FsException(Errno.EINVAL, past + hint);
        Cursor c = subvolumes.tree(ObjectIds.DEV_TREE).seek(new Key(devid, KeyType.DEV_EXTENT, 0));
        while (c.valid() && c.key().objectid() == devid && c.key().type() == KeyType.DEV_EXTENT) {
            if (c.dataSize() < DevExtent.SIZE) {
                throw new CorruptBlockException(ObjectIds.DEV_TREE, c.leaf().bytenr(), c.slot(), "dev extent of "
                        + c.dataSize() + " bytes, expected " + DevExtent.SIZE);
            }
            DevExtent extent = c.decode(DevExtent.SIZE, DevExtent::read);
            long start = c.key().offset();
            long end = start + extent.length();
            if (Long.compareUnsigned(end, start) < 0 || Long.compareUnsigned(end, size) > 0) {
                throw new FsException(Errno.EINVAL, "dev extent of chunk at logical "
                        + Long.toUnsignedString(extent.chunkOffset()) + " ends at physical " + Long.toUnsignedString(end) + ", past the end of the device ("
                        + size + " bytes)" + hint);
            }
            c.next();
        }
    }

    /** The kernel's space_cache / nospace_cache / clear_cache rules for the image's free space. */
    private static MountOptions.SpaceCache spaceCache(SuperBlock sb, MountOptions options, String hint)
            throws FsException {
        MountOptions.SpaceCache asked = options.spaceCache();
        if ((sb.compatRoFlags() & Features.COMPAT_RO_FREE_SPACE_TREE) != 0) {
            if ((sb.compatRoFlags() & Features.COMPAT_RO_FREE_SPACE_TREE_VALID) == 0) {
                throw new FsException(Errno.EINVAL, "the free-space tree is not marked valid" + hint);
            }
            if (asked == MountOptions.SpaceCache.V1 || asked == MountOptions.SpaceCache.NONE) {
                throw new FsException(Errno.EINVAL, "cannot disable the free-space tree (space_cache=v1 or "
                        + "nospace_cache on an image that has one; the kernel refuses it too)");
            }
            return MountOptions.SpaceCache.V2;
        }
        // space_cache=v2 on a v1 image: the mount creates the free-space tree, as the kernel's does
        if (asked == MountOptions.SpaceCache.V2 || asked == MountOptions.SpaceCache.NONE) return asked;
        if (sb.sectorsize() != SpaceCachePages.PAGE) {
            throw new FsException(Errno.EINVAL, "cannot write the v1 space cache of sectorsize " + sb.sectorsize()
                    + " (use nospace_cache)" + hint);
        }
        return MountOptions.SpaceCache.V1;
    }
}
