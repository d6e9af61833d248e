package jbtrfs.volumes;

import java.io.IOException;
import java.nio.ByteBuffer;

import jbtrfs.FsException;
import jbtrfs.device.BlockDevice;

/**
 * The single device of a filesystem, addressed logically through the {@link ChunkMap}
 * (≈ btrfs_map_block + submit on one device).
 */
public final class Volume {
    private final BlockDevice device;
    private final long devid;
    private volatile ChunkMap chunks;

    public Volume(BlockDevice device, long devid, ChunkMap chunks) {
        this.device = device;
        this.devid = devid;
        this.chunks = chunks;
    }

    public BlockDevice device() { return device; }

    public ChunkMap chunks() { return chunks; }

    /** Replaces the bootstrap map with the full one read from the chunk tree. */
    public void setChunks(ChunkMap chunks) { this.chunks = chunks; }

    /** How many copies exist of the byte at {@code logical} (1 for SINGLE, 2 for DUP). */
    public int copies(long logical) throws FsException {
        return chunkAt(logical, 1).copies();
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code logical} from copy {@code mirror} (0-based).
     * The range must lie inside one chunk.
     */
    public void read(long logical, ByteBuffer dst, int mirror) throws IOException {
        int length = dst.remaining();
        Chunk chunk = chunkAt(logical, length);
        if (Long.compareUnsigned(logical + length, chunk.end()) > 0) {
            throw new FsException("read of " + length + " bytes at logical " + Long.toUnsignedString(logical)
                    + " crosses the end of its chunk at " + Long.toUnsignedString(chunk.end()));
        }
        long address = logical;
        while (dst.hasRemaining()) {
            int n = (int) Math.min(dst.remaining(), chunk.contiguousBytes(address));
            Chunk.Placement place = chunk.place(address, mirror);
            if (place.devid() != devid) {
                throw new FsException("logical " + Long.toUnsignedString(address) + " lies on device "
                        + place.devid() + ", which is not this image (device " + devid + ")");
            }
            ByteBuffer part = dst.slice(dst.position(), n);
            device.read(place.physical(), part);
            dst.position(dst.position() + n);
            address += n;
        }
    }

    private Chunk chunkAt(long logical, int length) throws FsException {
        Chunk c = chunks.find(logical);
        if (c == null) {
            throw new FsException("no chunk maps logical address " + Long.toUnsignedString(logical)
                    + " (length " + length + ")");
        }
        return c;
    }
}
