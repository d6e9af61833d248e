package jbtrfs.volumes;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.IoBatch;
import jbtrfs.device.IoRequest;
import jbtrfs.device.WriteBehind;
import jbtrfs.format.ChunkItem;

/**
 * The devices of a filesystem by devid, addressed logically through the {@link ChunkMap} (≈ btrfs_map_block + submit).
 * A write goes to every copy on every member (SINGLE, DUP, RAID0, RAID1, RAID1C3, RAID1C4, RAID10); a write into a
 * RAID5/6 chunk goes with the parity it changes ({@link Raid56Writes}). A member absent from the set (a degraded
 * mount) fails its reads with EIO, so readers fall back to the other copies or to parity; a write skips its copies
 * there (the kernel counts them as tolerated failures).
 */
public final class Volume {
    /** File data in flight at most; a writer past it waits (a bound on the memory the buffers hold). */
    static final long WRITE_BEHIND_BYTES = 64L << 20;

    private final BlockDevice device;
    private final long devid;
    /** Every member present, by devid (the first device among them). */
    private final Map<Long, BlockDevice> members;
    private volatile ChunkMap chunks;
    /** File data writes in flight, one queue per writable member, by devid (empty when read-only). */
    private final Map<Long, WriteBehind> writeBehind;
    /** Whether a bad copy may be written over with a good one now (a read-write mount that has not aborted). */
    private volatile BooleanSupplier repairs = () -> false;
    /** Held from a RAID5/6 read-modify-write's reads until its writes are queued, so the next one reads them. */
    private final Object parityLock = new Object();
    /** Batches {@link #submit} returned, perhaps in flight: a read-modify-write waits for them before it reads. */
    private final List<IoBatch> submitted = new ArrayList<>();

    public Volume(BlockDevice device, long devid, ChunkMap chunks) {
        this(devid, Map.of(devid, device), chunks);
    }

    /** A volume over {@code members} by devid; {@code devid} names the one opened first, which writes would use. */
    public Volume(long devid, Map<Long, BlockDevice> members, ChunkMap chunks) {
        this.device = members.get(devid);
        this.devid = devid;
        this.members = Map.copyOf(members);
        this.chunks = chunks;
        Map<Long, WriteBehind> behind = new TreeMap<>();
        if (device.writable()) {
            // the bound is per member: each one's queue keeps its own disk busy
            members.forEach((id, member) -> behind.put(id, new WriteBehind(member, WRITE_BEHIND_BYTES)));
        }
        this.writeBehind = Map.copyOf(behind);
    }

    /** One write of a logical range's copy: the member it goes to, which copy it is, the request. */
    public record MemberWrite(long devid, int mirror, IoRequest request) {
    }

    /** The write of {@code src} at {@code logical}, one of a batch. */
    public record Write(long logical, ByteBuffer src) {
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
        WriteBehind behind = writeBehind.get(place.devid());
        if (behind != null) behind.awaitRange(place.physical(), n);
        if (bulk) member.readBulk(place.physical(), dst);
        else member.read(place.physical(), dst);
    }

    /**
     * The writes that put {@code src} at {@code logical} on every copy on every member (≈ btrfs_map_block for a
     * write): a striped profile's range is split at stripe_len units, a parity profile's goes with its parity. The
     * range must lie in one chunk. Each request gets its own view of {@code src}.
     */
    public List<MemberWrite> writeRequests(long logical, ByteBuffer src) throws FsException {
        return writeRequests(List.of(new Write(logical, src)));
    }

    /**
     * The writes of a batch (each inside one chunk): those into RAID5/6 chunks are gathered per full stripe, one
     * read-modify-write and one parity write each. The caller submits them before another batch into the same
     * full stripes is planned, or that one reads stale data ({@link #submitWrites} does both at once): the space
     * cache writeout runs while the commit keeps every change out, so no file data is planned beside it.
     */
    public List<MemberWrite> writeRequests(List<Write> writes) throws FsException {
        List<MemberWrite> out = new ArrayList<>();
        Map<Long, Raid56Writes> parity = new TreeMap<>(Long::compareUnsigned);
        for (Write w : writes) {
            Chunk chunk = chunkInside(w.logical(), w.src().remaining());
            if (chunk.parity()) {
                parity.computeIfAbsent(chunk.logical(), k -> new Raid56Writes(this, chunk)).add(w.logical(), w.src());
            } else {
                out.addAll(copyWrites(chunk, w.logical(), w.src()));
            }
        }
        if (!parity.isEmpty()) {
            synchronized (parityLock) {
                for (Raid56Writes r : parity.values()) out.addAll(plan(r));
            }
        }
        return out;
    }

    /**
     * A batch {@link #submitWrites} submitted: per member, as {@link #submit} gives it, and the bytes its requests
     * write on the devices (every copy; for RAID5/6 the data once and the parity it changed).
     */
    public record SubmittedWrites(Map<Long, IoBatch> batches, long bytes) {
    }

    /**
     * {@link #writeRequests} and {@link #submit} of a batch in one step: no other RAID5/6 write is planned between
     * them.
     */
    public SubmittedWrites submitWrites(List<Write> writes) throws FsException {
        synchronized (parityLock) {
            List<MemberWrite> requests = writeRequests(writes);
            long bytes = 0;
            for (MemberWrite w : requests) bytes += w.request().length();
            return new SubmittedWrites(submit(requests), bytes);
        }
    }

    /** Work on RAID5/6 full stripes that must see them still: parity checked against data read just before. */
    public interface ParityWork {
        void run() throws IOException;
    }

    /**
     * Runs {@code work} with no RAID5/6 write planned or submitted meanwhile, after every batch submitted before it
     * is done: a scrub's parity check reads data and P/Q that no write changes between (it would put back P/Q of
     * data that was already overwritten).
     */
    public void withParityLock(ParityWork work) throws IOException {
        synchronized (parityLock) {
            awaitSubmitted();
            work.run();
        }
    }

    /** A RAID5/6 batch's writes, after every batch submitted before it is done (its reads see their data). */
    private List<MemberWrite> plan(Raid56Writes r) throws FsException {
        try {
            awaitSubmitted();
            return r.plan();
        } catch (FsException e) {
            throw e;
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "read-modify-write of a RAID5/6 full stripe: " + e.getMessage(), e);
        }
    }

    /** Waits for every batch submitted so far; their failures are their submitters' to report. */
    private void awaitSubmitted() throws IOException {
        List<IoBatch> batches;
        synchronized (submitted) {
            batches = new ArrayList<>(submitted);
            submitted.clear();
        }
        for (IoBatch b : batches) {
            for (var f : b.futures()) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    // reported by whoever awaits the batch
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted waiting for writes before a RAID5/6 write");
                }
            }
        }
    }

    /** The chunk holding the whole of [logical, logical + length). */
    private Chunk chunkInside(long logical, int length) throws FsException {
        Chunk chunk = chunkAt(logical, length);
        if (Long.compareUnsigned(logical + length, chunk.end()) > 0) {
            throw new FsException(Errno.EIO, "write of " + length + " bytes at logical " + Long.toUnsignedString(logical)
                    + " does not lie in one chunk");
        }
        return chunk;
    }

    /** Every copy's writes of a range in a chunk without parity. */
    private List<MemberWrite> copyWrites(Chunk chunk, long logical, ByteBuffer src) throws FsException {
        int length = src.remaining();
        List<MemberWrite> out = new ArrayList<>(chunk.copies());
        int done = 0;
        while (done < length) {
            long address = logical + done;
            int n = (int) Math.min(length - done, chunk.contiguousBytes(address));
            ByteBuffer part = src.slice(src.position() + done, n);
            int written = 0;
            long missing = -1;
            for (int mirror = 0; mirror < chunk.copies(); mirror++) {
                Chunk.Placement place = chunk.place(address, mirror);
                if (!members.containsKey(place.devid())) {
                    missing = place.devid(); // a degraded mount: the copies on the members present are the write
                    continue;
                }
                out.add(new MemberWrite(place.devid(), mirror, IoRequest.write(place.physical(), part.duplicate())));
                written++;
            }
            if (written == 0) {
                throw new FsException(Errno.EIO, "logical " + Long.toUnsignedString(address) + " lies on device "
                        + missing + ", which is missing");
            }
            done += n;
        }
        return out;
    }

    /**
     * Submits {@code writes} to every member's queue before waiting for any, so that all disks work at once (the
     * two-stage writeout); every write must lie inside its member. The batch is per member, in devid order.
     */
    public Map<Long, IoBatch> submit(List<MemberWrite> writes) throws FsException {
        Map<Long, List<IoRequest>> byMember = new TreeMap<>();
        for (MemberWrite w : writes) {
            BlockDevice member = members.get(w.devid());
            IoRequest r = w.request();
            if (r.offset() < 0 || r.offset() + r.length() > member.size()) {
                throw new FsException(Errno.EIO, "write of " + r.length() + " bytes at physical " + r.offset()
                        + " ends past the end of the device (" + member.size() + " bytes"
                        + (members.size() > 1 ? ", devid " + w.devid() : "") + ")");
            }
            byMember.computeIfAbsent(w.devid(), id -> new ArrayList<>()).add(r);
        }
        Map<Long, IoBatch> out = new TreeMap<>();
        byMember.forEach((id, requests) -> out.put(id, members.get(id).submit(requests)));
        synchronized (submitted) {
            submitted.removeIf(b -> b.futures().stream().allMatch(Future::isDone));
            submitted.addAll(out.values());
        }
        return out;
    }

    /** Waits for every batch of {@link #submit}; throws the first failure with the others suppressed. */
    public static void await(Map<Long, IoBatch> batches) throws IOException {
        eachMember(batches.values(), IoBatch::await);
    }

    /** What waits on one member's I/O. */
    private interface MemberWait<T> {
        void await(T t) throws IOException;
    }

    /** Waits on every member's {@code items}, so none is left in flight; throws the first failure, others suppressed. */
    private static <T> void eachMember(Iterable<T> items, MemberWait<T> wait) throws IOException {
        IOException first = null;
        for (T item : items) {
            try {
                wait.await(item);
            } catch (IOException e) {
                if (first == null) first = e; else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }

    /**
     * Flushes every member (writes completed before are durable on all of them): each member's flush is queued
     * before any is waited for, so that all disks flush at once.
     */
    public void flush() throws IOException {
        if (members.size() == 1) {
            device.flush();
            return;
        }
        Map<Long, IoBatch> flushes = new TreeMap<>();
        members.forEach((id, member) -> flushes.put(id, member.submit(List.of(IoRequest.flush()))));
        await(flushes);
    }

    /** The sum over the members of the most requests each had in flight since the last call (for meters). */
    public int takePeakInFlight() {
        int sum = 0;
        for (BlockDevice member : members.values()) sum += member.takePeakInFlight();
        return sum;
    }

    /**
     * Writes file data at {@code logical} on every copy without waiting (the bytes are copied first):
     * reads of the range wait for it, and a commit calls {@link #drainWrites} before its tree blocks point at it.
     */
    public void writeBehind(long logical, ByteBuffer src) throws IOException {
        if (!chunkAt(logical, src.remaining()).parity()) {
            queue(writeRequests(logical, src));
            return;
        }
        synchronized (parityLock) {
            queue(writeRequests(logical, src)); // queued before the next read-modify-write reads the full stripe
        }
    }

    private void queue(List<MemberWrite> writes) throws IOException {
        if (writeBehind.isEmpty()) {
            await(submit(writes));
            return;
        }
        Map<Long, List<IoRequest>> byMember = new TreeMap<>();
        for (MemberWrite w : writes) byMember.computeIfAbsent(w.devid(), id -> new ArrayList<>()).add(w.request());
        for (Map.Entry<Long, List<IoRequest>> e : byMember.entrySet()) writeBehind.get(e.getKey()).write(e.getValue());
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
     * Writes {@code src} over copy {@code mirror} of {@code logical} only, and waits (≈ btrfs_repair_io_failure:
     * a good copy's bytes put back where a copy was bad). The range must lie in one chunk.
     */
    public void repairCopy(long logical, ByteBuffer src, int mirror) throws IOException {
        if (!chunkAt(logical, src.remaining()).parity()) {
            repair(logical, src, mirror);
            return;
        }
        Chunk chunk = chunkAt(logical, src.remaining());
        // on RAID5/6 copy 0 is the data, 1 is P and 2 is Q (made from the data); the later ways to read (P and Q with
        // another data stripe taken as lost) are no place on disk, so nothing is written for them
        if (mirror > chunk.item().numStripes() - chunk.dataStripes()) return;
        synchronized (parityLock) {
            repair(logical, src, mirror);
        }
    }

    private void repair(long logical, ByteBuffer src, int mirror) throws IOException {
        List<MemberWrite> one = new ArrayList<>();
        for (MemberWrite w : writeRequests(logical, src)) {
            if (w.mirror() == mirror) one.add(w);
        }
        if (one.isEmpty()) {
            throw new FsException(Errno.EIO, "no copy " + (mirror + 1) + " of logical "
                    + Long.toUnsignedString(logical));
        }
        for (MemberWrite w : one) {
            WriteBehind behind = writeBehind.get(w.devid());
            if (behind != null) behind.awaitRange(w.request().offset(), w.request().length());
        }
        await(submit(one));
    }

    /** Where copy {@code mirror} of {@code logical} lies on the device (unstriped profiles), for messages. */
    public long physical(long logical, int mirror) throws FsException {
        return chunkAt(logical, 1).place(logical, mirror).physical();
    }

    /** Waits for every file data write still in flight; throws if any failed (from then on, always). */
    public void drainWrites() throws IOException {
        eachMember(writeBehind.values(), WriteBehind::drain);
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
