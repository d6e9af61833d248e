package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.DevExtent;
import jbtrfs.format.DevItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Stripe;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.Volume;

/**
 * Makes new chunks when data or metadata block groups are full (≈ btrfs_alloc_chunk for one device, SINGLE and
 * DUP). The chunk is usable at once in memory; its chunk item, device extents and device item reach the trees when
 * the commit calls {@link #writePending}, so no tree is edited from inside another tree's edit.
 */
final class ChunkMaker implements BlockGroups.ChunkAllocator {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkMaker.class);
    private static final long DEVICE_RESERVED = 1L << 20;
    private static final long STRIPE_LEN = 64 * 1024;
    private static final long SIZE_ALIGN = 16L << 20;

    private final Volume volume;
    private final byte[] chunkTreeUuid;
    private final long devid;
    private final byte[] devUuid;
    private final long deviceBytes;
    private final TreeMap<Long, Long> devExtents = new TreeMap<>();
    private final List<long[]> pending = new ArrayList<>();
    private final List<ChunkItem> pendingItems = new ArrayList<>();
    private long devBytesUsed;
    private boolean devItemDirty;

    ChunkMaker(Volume volume, BTree devTree, DevItem devItem, byte[] chunkTreeUuid) throws FsException {
        this.volume = volume;
        this.chunkTreeUuid = chunkTreeUuid.clone();
        this.devid = devItem.devid();
        this.devUuid = devItem.uuid();
        this.deviceBytes = devItem.totalBytes();
        this.devBytesUsed = devItem.bytesUsed();
        Cursor c = devTree.seek(Key.first(devid, KeyType.DEV_EXTENT));
        while (c.valid() && c.key().objectid() == devid && c.key().type() == KeyType.DEV_EXTENT) {
            devExtents.put(c.key().offset(), c.decode(DevExtent.SIZE, DevExtent::read).length());
            c.next();
        }
    }

    long devBytesUsed() { return devBytesUsed; }

    @Override
    public boolean allocateChunk(BlockGroups groups, long type, long minSize) throws FsException {
        if ((type & BlockGroupFlags.SYSTEM) != 0) return false;
        long profile = 0;
        long fullType = type;
        for (BlockGroup bg : groups.all()) {
            if (bg.holds(type)) {
                profile = bg.flags() & BlockGroupFlags.PROFILE_MASK;
                fullType = bg.flags() & BlockGroupFlags.TYPE_MASK;
            }
        }
        if (profile != 0 && profile != BlockGroupFlags.DUP) return false;
        int stripes = profile == BlockGroupFlags.DUP ? 2 : 1;
        long want = chunkSize(fullType);
        long need = Math.max(minSize, STRIPE_LEN);
        need = (need + STRIPE_LEN - 1) / STRIPE_LEN * STRIPE_LEN;
        // the stripes go into the first hole that takes them all, shrunk to what it has when need be
        long[] hole = largestHole();
        long size = Math.min(want, hole[1] / stripes / STRIPE_LEN * STRIPE_LEN);
        if (size < need) return false;
        long logical = 0;
        for (Chunk c : volume.chunks().chunks()) logical = Math.max(logical, c.end());
        List<Stripe> list = new ArrayList<>();
        for (int i = 0; i < stripes; i++) list.add(new Stripe(devid, hole[0] + i * size, devUuid));
        ChunkItem template = templateFor();
        ChunkItem item = new ChunkItem(size, ObjectIds.EXTENT_TREE, STRIPE_LEN, fullType | profile,
                template.ioAlign(), template.ioWidth(), template.sectorSize(), stripes, 0, list);
        volume.addChunk(logical, item);
        for (Stripe s : list) devExtents.put(s.offset(), size);
        devBytesUsed += size * stripes;
        devItemDirty = true;
        groups.addNew(logical, size, fullType | profile, volume.chunks());
        pending.add(new long[] {logical});
        pendingItems.add(item);
        LOG.info("new {} chunk at {} of {} bytes ({} stripe(s))", BlockGroupFlagsName.of(fullType), logical, size,
                stripes);
        return true;
    }

    private ChunkItem templateFor() {
        for (Chunk c : volume.chunks().chunks()) return c.item();
        throw new IllegalStateException("no chunk to copy io_align from");
    }

    /** The kernel's regular chunk sizing for one device: 10% of the device, 1 GiB data / 256 MiB metadata at most. */
    private long chunkSize(long type) {
        long maxStripe = (type & BlockGroupFlags.DATA) != 0 ? 1L << 30 : deviceBytes > (50L << 30) ? 1L << 30
                : 256L << 20;
        long tenth = deviceBytes / 10;
        long size = Math.min(maxStripe, (tenth + SIZE_ALIGN - 1) / SIZE_ALIGN * SIZE_ALIGN);
        return size / STRIPE_LEN * STRIPE_LEN;
    }

    /** The largest unallocated stretch of the device: {start, length}. */
    private long[] largestHole() {
        long best = 0;
        long bestAt = 0;
        long at = DEVICE_RESERVED;
        for (Map.Entry<Long, Long> e : devExtents.entrySet()) {
            if (e.getKey() > at && e.getKey() - at > best) {
                best = e.getKey() - at;
                bestAt = at;
            }
            at = Math.max(at, e.getKey() + e.getValue());
        }
        if (deviceBytes > at && deviceBytes - at > best) {
            best = deviceBytes - at;
            bestAt = at;
        }
        return new long[] {bestAt, best};
    }

    /** Inserts the items of chunks made since the last call; returns whether there were any. */
    boolean writePending(Transaction tx) throws FsException {
        if (pending.isEmpty() && !devItemDirty) return false;
        List<long[]> chunks = new ArrayList<>(pending);
        List<ChunkItem> items = new ArrayList<>(pendingItems);
        pending.clear();
        pendingItems.clear();
        TreeRoot chunkRoot = tx.root(ObjectIds.CHUNK_TREE);
        TreeRoot devRoot = tx.root(ObjectIds.DEV_TREE);
        for (int i = 0; i < chunks.size(); i++) {
            long logical = chunks.get(i)[0];
            ChunkItem item = items.get(i);
            tx.editor().insert(chunkRoot, new Key(ObjectIds.FIRST_CHUNK_TREE, KeyType.CHUNK_ITEM, logical),
                    item.encode());
            for (Stripe s : item.stripes()) {
                tx.editor().insert(devRoot, new Key(devid, KeyType.DEV_EXTENT, s.offset()),
                        new DevExtent(ObjectIds.CHUNK_TREE, ObjectIds.FIRST_CHUNK_TREE, logical, item.length(),
                                chunkTreeUuid).encode());
            }
        }
        if (devItemDirty) {
            devItemDirty = false;
            Key key = new Key(ObjectIds.DEV_ITEMS, KeyType.DEV_ITEM, devid);
            Cursor c = tx.tree(ObjectIds.CHUNK_TREE).find(key);
            if (c == null) throw new FsException(Errno.EIO, "no dev item for device " + devid);
            byte[] data = new byte[c.dataSize()];
            c.buffer().get(c.dataOffset(), data);
            ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(DevItem.OFFSET_BYTES_USED, devBytesUsed);
            tx.editor().put(chunkRoot, key, data);
        }
        return true;
    }

    /** Names for log lines. */
    private static final class BlockGroupFlagsName {
        static String of(long type) {
            return (type & BlockGroupFlags.DATA) != 0 ? ((type & BlockGroupFlags.METADATA) != 0 ? "mixed" : "data")
                    : "metadata";
        }
    }
}
