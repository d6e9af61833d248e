package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.DeviceIoException;
import jbtrfs.format.DevExtent;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.Volume;

/**
 * FITRIM as btrfs_trim_fs does it: the free space of each block group the logical range touches (each piece at
 * least minlen, on every copy on every member present), then each member's unallocated space past its first MiB; each discard skips the
 * superblock copies (btrfs_issue_discard), and the bytes given back are counted per copy. The caller holds every
 * change and commit off after a commit, so what is free here is free on disk and in the running transaction.
 */
final class FreeSpaceTrim {
    private static final Logger LOG = LoggerFactory.getLogger(FreeSpaceTrim.class);
    /** BTRFS_DEVICE_RANGE_RESERVED: the first MiB of a device is never allocated nor trimmed. */
    private static final long DEVICE_RESERVED = 1L << 20;

    private final Volume volume;
    private final BlockGroups groups;
    private final BTree devTree;
    /** The members present, by devid: their total_bytes. */
    private final Map<Long, Long> deviceBytes;

    FreeSpaceTrim(Volume volume, BlockGroups groups, BTree devTree, Map<Long, Long> deviceBytes) {
        this.volume = volume;
        this.groups = groups;
        this.devTree = devTree;
        this.deviceBytes = deviceBytes;
    }

    /** The bytes discarded for [start, start+len) of the logical space with pieces of at least {@code minlen}. */
    long trim(long start, long len, long minlen) throws FsException {
        long end = len == -1L ? -1L : start + len;
        try {
            volume.drainWrites();
            long trimmed = 0;
            for (BlockGroup bg : groups.all()) {
                long from = Long.compareUnsigned(start, bg.start()) > 0 ? start : bg.start();
                long to = Long.compareUnsigned(end, bg.end()) < 0 ? end : bg.end();
                if (Long.compareUnsigned(from, to) >= 0 || Long.compareUnsigned(to - from, minlen) < 0) continue;
                Chunk chunk = volume.chunks().find(bg.start());
                if (chunk == null || chunk.stripeLength() != chunk.length()) continue; // striped: not on one device
                for (long[] free : bg.freeNow()) {
                    long a = Math.max(free[0], from);
                    long b = Math.min(free[0] + free[1], to);
                    if (b <= a || Long.compareUnsigned(b - a, minlen) < 0) continue;
                    for (Stripe s : chunk.item().stripes()) {
                        if (deviceBytes.containsKey(s.devid())) {
                            trimmed += discard(s.devid(), s.offset() + (a - chunk.logical()), b - a);
                        }
                    }
                }
            }
            for (Map.Entry<Long, Long> m : deviceBytes.entrySet()) trimmed += trimUnallocated(m.getKey(), m.getValue());
            return trimmed;
        } catch (DeviceIoException e) {
            if (e.errno() == jbtrfs.device.Errno.EOPNOTSUPP) throw new FsException(Errno.EOPNOTSUPP, e.getMessage());
            throw new FsException(Errno.EIO, e.getMessage());
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "trim: " + e.getMessage());
        }
    }

    /** The gaps between a member's extents (btrfs_trim_free_extents), from its first MiB to its end. */
    private long trimUnallocated(long devid, long bytes) throws IOException, FsException {
        long trimmed = 0;
        long at = DEVICE_RESERVED;
        for (Cursor c = devTree.seek(Key.first(devid, KeyType.DEV_EXTENT)); c.valid()
                && c.key().objectid() == devid && c.key().type() == KeyType.DEV_EXTENT; c.next()) {
            long extent = c.key().offset();
            if (extent > at) trimmed += discard(devid, at, extent - at);
            long length = DevExtent.read(ByteBuffer.wrap(bytes(c)).order(ByteOrder.LITTLE_ENDIAN), 0).length();
            at = Math.max(at, extent + length);
        }
        if (bytes > at) trimmed += discard(devid, at, bytes - at);
        return trimmed;
    }

    private static byte[] bytes(Cursor c) {
        byte[] data = new byte[c.dataSize()];
        c.buffer().get(c.dataOffset(), data);
        return data;
    }

    /**
     * btrfs_issue_discard: [start, start+len) of member {@code devid}, 512-byte aligned, without the superblock copies in it;
     * the bytes discarded.
     */
    private long discard(long devid, long start, long len) throws IOException {
        BlockDevice device = volume.members().get(devid);
        long aligned = (start + 511) & ~511L;
        if (start + len <= aligned) return 0;
        long end = aligned + ((start + len - aligned) & ~511L);
        long at = aligned;
        long done = 0;
        for (long sb : SuperBlock.MIRROR_OFFSETS) {
            long sbEnd = sb + SuperBlock.SIZE;
            if (sbEnd <= at || sb >= end) continue;
            if (sb > at) {
                device.discard(at, sb - at);
                done += sb - at;
            }
            at = sbEnd;
        }
        if (end > at) {
            device.discard(at, end - at);
            done += end - at;
        }
        LOG.debug("discarded {} bytes at {} of devid {}", done, start, devid);
        return done;
    }
}
