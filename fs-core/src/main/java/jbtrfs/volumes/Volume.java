package jbtrfs.volumes;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.IoRequest;
import jbtrfs.device.WriteBehind;
import jbtrfs.format.ChunkItem;

/**
 * The devices of a filesystem by devid, addressed logically through the {@link ChunkMap} (≈ btrfs_map_block + submit).
 * Writes go to the one device of a single-device filesystem; a set of several is read-only. A member absent from
 * the set (a degraded mount) fails its reads with EIO, so readers fall back to the other copies or to parity.
 */
public final class Volume {
    /** File data in flight at most; a writer past it waits (a bound on the memory the buffers hold). */
    static final long WRITE_BEHIND_BYTES = 64L << 20;

    private final BlockDevice device;
    private final long devid;
    /** Every member present, by devid (the first device among them). */
    private final Map<Long, BlockDevice> members;
    private volatile ChunkMap chunks;
    private final WriteBehind writeBehind;
    /** Whether a bad copy may be written over with a good one now (a read-write mount that has not aborted). */
    private volatile BooleanSupplier repairs = () -> false;

    public Volume(BlockDevice device, long devid, ChunkMap chunks) {
        this(devid, Map.of(devid, device), chunks);
    }

    /** A volume over {@code members} by devid; {@code devid} names the one opened first, which writes would use. */
    public Volume(long devid, Map<Long, BlockDevice> members, ChunkMap chunks) {
        this.device = members.get(devid);
        this.devid = devid;
        this.members = Map.copyOf(members);
        this.chunks = chunks;
        this.writeBehind = device.writable() ? new WriteBehind(device, WRITE_BEHIND_BYTES) : null;
    }

    /** The device opened first (the only one of a single-device filesystem). */
    public BlockDevice device() { return device; }

    /** Every member present, by devid. */
    public Map<Long, BlockDevice> members() { return members; }

    public ChunkMap chunks() { return chunks; }

    /** Replaces the bootstrap map with the full one read from the chunk tree. */
    public void setChunks(ChunkMap chunks) { this.chunks = chunks; }

    /**
     * How many ways there are to read the byte at {@code logical} (1 for SINGLE, 2 for DUP; for RAID5/6 the data
     * itself and its rebuilds from parity, {@link Chunk#copies}).
     */
    public int copies(long logical) throws FsException {
        return chunkAt(logical, 1).copies();
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code logical} from copy {@code mirror} (0-based).
     * The range must lie inside one chunk.
     */
    public void read(long logical, ByteBuffer dst, int mirror) throws IOException {
        read(logical, dst, mirror, false);
    }

    /** {@link #read} of file data, which the device may read around the host's page cache. */
    public void readData(long logical, ByteBuffer dst, int mirror) throws IOException {
        read(logical, dst, mirror, true);
    }

    private void read(long logical, ByteBuffer dst, int mirror, boolean bulk) throws IOException {
        int length = dst.remaining();
        Chunk chunk = chunkAt(logical, length);
        if (Long.compareUnsigned(logical + length, chunk.end()) > 0) {
            throw new FsException(Errno.EIO, "read of " + length + " bytes at logical " + Long.toUnsignedString(logical)
                    + " crosses the end of its chunk at " + Long.toUnsignedString(chunk.end()));
        }
        long address = logical;
        while (dst.hasRemaining()) {
            long contiguous = chunk.contiguousBytes(address); // unsigned: a chunk may span more than 2^63
            int n = Long.compareUnsigned(contiguous, dst.remaining()) < 0 ? (int) contiguous : dst.remaining();
            if (n <= 0) {
                throw new FsException(Errno.EIO, "chunk at logical " + Long.toUnsignedString(chunk.logical())
                        + " maps no bytes at " + Long.toUnsignedString(address));
            }
            ByteBuffer part = dst.slice(dst.position(), n);
            readPart(chunk, address, part, mirror, bulk);
            dst.position(dst.position() + n);
            address += n;
        }
    }

    /**
     * Reads one part (inside one stripe_len unit) as copy {@code mirror}; where that copy cannot be read (its member
     * missing, a read error) the other ways to read this part serve it, each in turn: parity rotates and RAID10's
     * copies pair up per stripe, so another copy of the whole range may lack what this one has.
     */
    private void readPart(Chunk chunk, long address, ByteBuffer part, int mirror, boolean bulk) throws IOException {
        IOException first;
        try {
            readWay(chunk, address, part, mirror, bulk);
            return;
        } catch (IOException e) {
            first = e;
        }
        for (int other = 0; other < chunk.copies(); other++) {
            if (other == mirror) continue;
            try {
                readWay(chunk, address, part, other, bulk);
                return;
            } catch (IOException e) {
                // the next way, if any
            }
        }
        throw first;
    }

    private void readWay(Chunk chunk, long address, ByteBuffer part, int mirror, boolean bulk) throws IOException {
        if (chunk.parity() && mirror > 0) {
            Raid56Rebuild.read(this, chunk, address, part, mirror);
        } else {
            readAt(chunk.place(address, mirror), address, part, bulk);
        }
    }

    /** Reads {@code dst.remaining()} bytes at {@code place}; {@code address} (logical) names it in messages. */
    void readAt(Chunk.Placement place, long address, ByteBuffer dst, boolean bulk) throws IOException {
        BlockDevice member = members.get(place.devid());
        if (member == null) {
            throw new FsException(Errno.EIO, "logical " + Long.toUnsignedString(address) + " lies on device "
                    + place.devid() + ", which is missing");
        }
        int n = dst.remaining();
        if (Long.compareUnsigned(place.physical() + n, member.size()) > 0) {
            // a chunk that lies past the end of the device (a damaged or truncated image): EIO, never a short read
            throw new FsException(Errno.EIO, "read of " + n + " bytes at logical " + Long.toUnsignedString(address)
                    + " lies at physical " + Long.toUnsignedString(place.physical()) + ", past the end of the device ("
                    + member.size() + " bytes" + (members.size() > 1 ? ", devid " + place.devid() : "") + ")");
        }
        if (writeBehind != null && member == device) writeBehind.awaitRange(place.physical(), n);
        if (bulk) member.readBulk(place.physical(), dst);
        else member.read(place.physical(), dst);
    }

    /**
     * The write requests that put {@code src} at {@code logical} on every copy (SINGLE and DUP; the range must lie
     * in one chunk of a profile without striping). Each request gets its own view of {@code src}.
     */
    public List<IoRequest> writeRequests(long logical, ByteBuffer src) throws FsException {
        int length = src.remaining();
        Chunk chunk = chunkAt(logical, length);
        if (chunk.striped() || chunk.parity() || Long.compareUnsigned(logical + length, chunk.end()) > 0) {
            throw new FsException(Errno.EIO, "write of " + length + " bytes at logical " + Long.toUnsignedString(logical)
                    + " does not lie in one unstriped chunk");
        }
        List<IoRequest> out = new ArrayList<>(chunk.copies());
        for (int mirror = 0; mirror < chunk.copies(); mirror++) {
            Chunk.Placement place = chunk.place(logical, mirror);
            if (place.devid() != devid) {
                throw new FsException(Errno.EIO, "logical " + Long.toUnsignedString(logical) + " lies on device "
                        + place.devid() + ", which is not this image (device " + devid + ")");
            }
            out.add(IoRequest.write(place.physical(), src.duplicate()));
        }
        return out;
    }

    /**
     * Writes file data at {@code logical} on every copy without waiting (the bytes are copied first):
     * reads of the range wait for it, and a commit calls {@link #drainWrites} before its tree blocks point at it.
     */
    public void writeBehind(long logical, ByteBuffer src) throws IOException {
        List<IoRequest> requests = writeRequests(logical, src);
        if (writeBehind == null) {
            device.submit(requests).await();
        } else {
            writeBehind.write(requests);
        }
    }

    /** Lets {@link #repairCopy} write while {@code allowed} says so (read-write mounts; never on read-only ones). */
    public void allowRepairs(BooleanSupplier allowed) {
        this.repairs = device.writable() ? allowed : () -> false;
    }

    /** Whether a bad copy may be repaired now. */
    public boolean repairsAllowed() {
        return repairs.getAsBoolean();
    }

    /**
     * Writes {@code src} over copy {@code mirror} of {@code logical} only, on whichever member holds that copy, and
     * waits (≈ btrfs_repair_io_failure: a good copy's bytes put back where a copy was bad). The range must lie in
     * one unstriped chunk (SINGLE, DUP, the RAID1s).
     */
    public void repairCopy(long logical, ByteBuffer src, int mirror) throws IOException {
        int length = src.remaining();
        Chunk chunk = chunkAt(logical, length);
        if (chunk.striped() || chunk.parity() || Long.compareUnsigned(logical + length, chunk.end()) > 0) {
            throw new FsException(Errno.EIO, "repair of " + length + " bytes at logical "
                    + Long.toUnsignedString(logical) + " does not lie in one unstriped chunk");
        }
        if (mirror < 0 || mirror >= chunk.copies()) {
            throw new FsException(Errno.EIO, "no copy " + (mirror + 1) + " of logical "
                    + Long.toUnsignedString(logical));
        }
        Chunk.Placement place = chunk.place(logical, mirror);
        BlockDevice member = members.get(place.devid());
        if (member == null || !member.writable()) {
            throw new FsException(Errno.EIO, "copy " + (mirror + 1) + " of logical " + Long.toUnsignedString(logical)
                    + " lies on device " + place.devid() + ", which is " + (member == null ? "missing" : "read-only"));
        }
        if (writeBehind != null && member == device) writeBehind.awaitRange(place.physical(), length);
        member.submit(List.of(IoRequest.write(place.physical(), src.duplicate()))).await();
    }

    /** Where copy {@code mirror} of {@code logical} lies on the device (unstriped profiles), for messages. */
    public long physical(long logical, int mirror) throws FsException {
        return chunkAt(logical, 1).place(logical, mirror).physical();
    }

    /** Waits for every file data write still in flight; throws if any failed (from then on, always). */
    public void drainWrites() throws IOException {
        if (writeBehind != null) writeBehind.drain();
    }

    /** The logical address where the chunk holding {@code logical} ends. */
    public long chunkEnd(long logical) throws FsException {
        return chunkAt(logical, 0).end();
    }

    /** Adds a chunk made by the running transaction to the map. */
    public synchronized void addChunk(long logical, ChunkItem item) {
        ChunkMap next = new ChunkMap();
        for (Chunk c : chunks.chunks()) next.add(c.logical(), c.item());
        next.add(logical, item);
        chunks = next;
    }

    private Chunk chunkAt(long logical, int length) throws FsException {
        Chunk c = chunks.find(logical);
        if (c == null) {
            throw new FsException(Errno.EIO, "no chunk maps logical address " + Long.toUnsignedString(logical)
                    + " (length " + length + ")");
        }
        return c;
    }
}
