package jbtrfs.volumes;

import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.format.ChunkItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.MalformedItemException;
import jbtrfs.format.Stripe;

/**
 * Logical-to-chunk mapping (≈ btrfs_mapping_tree): first bootstrapped from the superblock's sys_chunk_array,
 * then filled from the chunk tree. Immutable once built; built single-threaded at open.
 */
public final class ChunkMap {
    private final TreeMap<Long, Chunk> byLogical = new TreeMap<>(Long::compareUnsigned);

    /** Adds a chunk; a chunk already known at that address is replaced (the chunk tree wins over the bootstrap). */
    public void add(long logical, ChunkItem item) {
        byLogical.put(logical, new Chunk(logical, item));
    }

    /** The chunk containing {@code address}, or null. */
    public Chunk find(long address) {
        Map.Entry<Long, Chunk> e = byLogical.floorEntry(address);
        if (e == null || !e.getValue().contains(address)) return null;
        return e.getValue();
    }

    public Collection<Chunk> chunks() {
        return byLogical.values();
    }

    /**
     * The first chunk with a stripe on device {@code devid} that ends past {@code deviceSize} bytes, in one line
     * naming the chunk's logical start, the stripe's physical end and the device size; null when every stripe fits.
     */
    public String stripePastEnd(long devid, long deviceSize) {
        for (Chunk c : byLogical.values()) {
            long stripeLength = c.stripeLength();
            for (int i = 0; i < c.item().stripes().size(); i++) {
                Stripe s = c.item().stripes().get(i);
                if (s.devid() != devid) continue;
                long end = s.offset() + stripeLength;
                if (Long.compareUnsigned(end, s.offset()) < 0 || Long.compareUnsigned(end, deviceSize) > 0) {
                    return "chunk at logical " + Long.toUnsignedString(c.logical()) + ": stripe " + i + " ends at "
                            + "physical " + Long.toUnsignedString(end) + ", past the end of the device ("
                            + deviceSize + " bytes)";
                }
            }
        }
        return null;
    }

    /**
     * Adds a chunk read from the image, after the kernel's chunk checks ({@link ChunkItem#problem}); a chunk that
     * fails them is a {@link MalformedItemException} naming its start and what is wrong.
     */
    public void addChecked(long logical, ChunkItem item, int sectorsize) {
        String problem = item.problem(logical, sectorsize);
        if (problem != null) {
            throw new MalformedItemException("chunk at " + Long.toUnsignedString(logical) + ": " + problem);
        }
        add(logical, item);
    }

    /**
     * Parses the superblock's sys_chunk_array: (disk key, chunk item) pairs describing the SYSTEM chunks,
     * which hold the chunk tree itself.
     */
    public static ChunkMap fromSysChunkArray(ByteBuffer array, int sectorsize) {
        ChunkMap map = new ChunkMap();
        int p = 0;
        int end = array.limit();
        while (p < end) {
            if (p + Key.SIZE > end) {
                throw new MalformedItemException("sys_chunk_array ends inside a key at byte " + p);
            }
            Key key = Key.read(array, p);
            p += Key.SIZE;
            if (key.type() != KeyType.CHUNK_ITEM) {
                throw new MalformedItemException("sys_chunk_array holds key " + key + ", expected a CHUNK_ITEM");
            }
            ChunkItem item = ChunkItem.read(array, p, end - p);
            map.addChecked(key.offset(), item, sectorsize);
            p += ChunkItem.size(item.numStripes());
        }
        return map;
    }
}
