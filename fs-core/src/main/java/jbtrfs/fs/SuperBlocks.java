package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.device.BlockDevice;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Features;
import jbtrfs.format.Key;
import jbtrfs.format.SuperBlock;

/**
 * Finds the superblock to mount from: every copy inside the device is read and checked (magic, bytenr, checksum),
 * and the valid copy with the highest generation wins. Then the image is checked for what the read path supports.
 */
final class SuperBlocks {
    private static final Logger LOG = LoggerFactory.getLogger(SuperBlocks.class);

    private SuperBlocks() {
    }

    /** The newest valid superblock; a one-line {@link Errno#EINVAL} when there is none. */
    static SuperBlock readBest(BlockDevice device) throws IOException {
        SuperBlock best = null;
        int copiesInside = 0;
        int withMagic = 0;
        String firstProblem = null;
        for (long offset : SuperBlock.MIRROR_OFFSETS) {
            if (offset + SuperBlock.SIZE > device.size()) break;
            copiesInside++;
            ByteBuffer b = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
            device.read(offset, b);
            b.clear();
            SuperBlock sb = SuperBlock.decode(b);
            if (sb.magic() != SuperBlock.MAGIC) {
                if (offset == SuperBlock.MIRROR_OFFSETS[0]) firstProblem = "no Btrfs magic at 64 KiB";
                continue;
            }
            withMagic++;
            String problem = checkCopy(sb, b, offset);
            if (problem != null) {
                LOG.warn("superblock copy at {}: {}", offset, problem);
                if (firstProblem == null || withMagic == 1) firstProblem = problem;
                continue;
            }
            if (best == null || sb.generation() > best.generation()) best = sb;
        }
        if (copiesInside == 0) {
            throw new FsException(Errno.EINVAL, "not a Btrfs image: " + device.size()
                    + " bytes is too small to hold a superblock");
        }
        if (withMagic == 0) {
            throw new FsException(Errno.EINVAL, "not a Btrfs image: no superblock magic at 64 KiB");
        }
        if (best == null) {
            throw new FsException(Errno.EINVAL, "no valid superblock: " + firstProblem + " on every copy ("
                    + withMagic + " with the Btrfs magic)");
        }
        return best;
    }

    /** The superblock of another device given for the filesystem; a device without one is refused naming it. */
    static SuperBlock readMember(BlockDevice device, String name) throws IOException {
        try {
            return readBest(device);
        } catch (FsException e) {
            throw new FsException(Errno.EINVAL, name + ": " + e.getMessage());
        }
    }

    private static String checkCopy(SuperBlock sb, ByteBuffer raw, long offset) {
        if (sb.bytenr() != offset) return "bytenr field is " + sb.bytenr() + ", expected " + offset;
        ChecksumType type;
        try {
            type = ChecksumType.fromCode(sb.csumType());
        } catch (IllegalArgumentException e) {
            return "unsupported checksum type " + sb.csumType();
        }
        if (!type.matches(raw, SuperBlock.CSUM_SIZE, SuperBlock.SIZE - SuperBlock.CSUM_SIZE, raw, 0)) {
            return "bad superblock checksum";
        }
        return null;
    }

    /** Refuses what the read path cannot serve, with one line naming it. */
    static void checkSupported(SuperBlock sb, long deviceSize) throws FsException {
        long unsupported = sb.incompatFlags() & ~Features.INCOMPAT_READ_SUPPORTED;
        if (unsupported != 0) {
            throw new FsException(Errno.EINVAL, "unsupported incompat feature: "
                    + String.join(", ", Features.incompatNames(unsupported))
                    + " (flags 0x" + Long.toHexString(unsupported) + ")");
        }
        if (!powerOfTwoBetween(sb.sectorsize(), 4096, 65536)) {
            throw new FsException(Errno.EINVAL, "unsupported sectorsize " + sb.sectorsize());
        }
        if (!powerOfTwoBetween(sb.nodesize(), 4096, 65536) || sb.nodesize() < sb.sectorsize()) {
            throw new FsException(Errno.EINVAL, "unsupported nodesize " + sb.nodesize() + " (sectorsize "
                    + sb.sectorsize() + ")");
        }
        int sysArray = sb.sysChunkArraySize();
        if (Integer.compareUnsigned(sysArray, SuperBlock.SYS_CHUNK_ARRAY_MAX) > 0
                || sysArray < Key.SIZE + ChunkItem.size(1)) {
            throw new FsException(Errno.EINVAL, "corrupt superblock: sys_chunk_array_size "
                    + Integer.toUnsignedString(sysArray) + ", expected " + (Key.SIZE + ChunkItem.size(1)) + ".."
                    + SuperBlock.SYS_CHUNK_ARRAY_MAX);
        }
        if (sb.rootLevel() >= MAX_LEVEL || sb.chunkRootLevel() >= MAX_LEVEL || sb.logRootLevel() >= MAX_LEVEL) {
            throw new FsException(Errno.EINVAL, "corrupt superblock: root levels " + sb.rootLevel() + ", "
                    + sb.chunkRootLevel() + ", " + sb.logRootLevel() + " (root, chunk root, log root), expected below "
                    + MAX_LEVEL);
        }
        for (long root : new long[] {sb.root(), sb.chunkRoot(), sb.logRoot()}) {
            if (root % sb.sectorsize() != 0) {
                throw new FsException(Errno.EINVAL, "corrupt superblock: tree root " + Long.toUnsignedString(root)
                        + " is not aligned to the sectorsize " + sb.sectorsize());
            }
        }
        if (sb.numDevices() == 0) {
            throw new FsException(Errno.EINVAL, "corrupt superblock: num_devices is 0");
        }
        if (sb.devItem().totalBytes() > deviceSize) {
            throw new FsException(Errno.EINVAL, "image is truncated: the filesystem needs "
                    + sb.devItem().totalBytes() + " bytes, the image has " + deviceSize);
        }
    }

    /** BTRFS_MAX_LEVEL: tree levels are 0..7. */
    private static final int MAX_LEVEL = 8;

    private static boolean powerOfTwoBetween(int v, int min, int max) {
        return v >= min && v <= max && Integer.bitCount(v) == 1;
    }
}
