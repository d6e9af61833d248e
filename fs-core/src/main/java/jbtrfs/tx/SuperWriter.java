package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.TreeChecker;
import jbtrfs.device.AlignedBuffers;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.IoBatch;
import jbtrfs.device.IoRequest;
import jbtrfs.format.Header;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.Volume;

/**
 * The write half of a commit: stage one checksums every dirty tree block and submits all copies without waiting;
 * stage two reaps the completions, flushes, writes every superblock copy, and flushes again. Until the first
 * superblock lands the disk still holds the previous transaction, whose blocks were never overwritten.
 */
public final class SuperWriter {
    /** Backup root slots in the superblock: 4 of 168 bytes from 2859. */
    static final int OFFSET_BACKUP_ROOTS = 2859;
    static final int BACKUP_ROOT_SIZE = 168;
    static final int BACKUP_ROOTS = 4;

    /** The most bytes of adjacent tree blocks one write carries: a big commit still has many writes in flight. */
    private static final int MAX_MERGED_WRITE = 1 << 20;

    private final Volume volume;
    private final ChecksumType csumType;
    private final int nodesize;
    /** O_DIRECT wants page-aligned memory; the kernel's pages are 4 KiB. */
    private static final int ALIGNMENT = 4096;
    private ByteBuffer staging;

    /** Figures of one writeout, for meters and logs. */
    public record Writeout(int treeBlocks, long bytes, int peakInFlight, long submitNanos, long waitNanos) {
    }

    /** Figures of one space cache writeout; {@code failed} holds the block groups whose pages did not land. */
    public record CacheWriteout(int groups, long bytes, int peakInFlight, long submitNanos, long waitNanos,
                                Set<Long> failed) {
        static final CacheWriteout NONE = new CacheWriteout(0, 0, 0, 0, 0, Set.of());

        /** Two writeouts of one commit together. */
        CacheWriteout plus(CacheWriteout o) {
            Set<Long> f = new HashSet<>(failed);
            f.addAll(o.failed);
            return new CacheWriteout(groups + o.groups, bytes + o.bytes, Math.max(peakInFlight, o.peakInFlight),
                    submitNanos + o.submitNanos, waitNanos + o.waitNanos, f);
        }
    }

    public SuperWriter(Volume volume, ChecksumType csumType, int nodesize) {
        this.volume = volume;
        this.csumType = csumType;
        this.nodesize = nodesize;
    }

    /**
     * Stage one and two for the tree blocks of {@code tx}; returns when every copy is on the device (not yet
     * flushed). Every block passes the write-time tree checker first: one that fails, or a copy that would land
     * past the end of the device, stops the writeout before any request goes out.
     */
    Writeout writeBlocks(Transaction tx, byte[] fsid) throws IOException {
        long t0 = System.nanoTime();
        Map<Long, ByteBuffer> dirty = tx.dirtyBlocks();
        checkBlocks(tx, fsid);
        byte[] csum = new byte[ChecksumType.CSUM_SIZE];
        for (ByteBuffer b : dirty.values()) {
            b.putLong(Header.OFFSET_FLAGS, b.getLong(Header.OFFSET_FLAGS) | Header.FLAG_WRITTEN);
            java.util.Arrays.fill(csum, (byte) 0);
            csumType.compute(b, Header.CSUM_START, nodesize - Header.CSUM_START, csum);
            b.put(Header.OFFSET_CSUM, csum);
        }
        // blocks side by side in one chunk go out as one write per copy (as the block layer merges adjacent bios):
        // copy-on-write allocates a commit's blocks mostly in a row, so an fsync's ~10 blocks take 2 writes, not 20
        List<Long> addresses = new ArrayList<>(dirty.keySet());
        addresses.sort(Long::compareUnsigned);
        List<IoRequest> requests = new ArrayList<>();
        long bytes = 0;
        for (int i = 0; i < addresses.size(); ) {
            long first = addresses.get(i);
            long chunkEnd = volume.chunkEnd(first);
            int n = 1;
            while (i + n < addresses.size() && addresses.get(i + n) == first + (long) n * nodesize
                    && first + (long) (n + 1) * nodesize <= chunkEnd && (long) (n + 1) * nodesize <= MAX_MERGED_WRITE) {
                n++;
            }
            ByteBuffer src;
            if (n == 1) {
                src = dirty.get(first).duplicate().clear();
            } else {
                src = ByteBuffer.allocate(n * nodesize);
                for (int k = i; k < i + n; k++) src.put(dirty.get(addresses.get(k)).duplicate().clear());
                src.flip();
            }
            List<IoRequest> copies = volume.writeRequests(first, src);
            requests.addAll(copies);
            bytes += (long) copies.size() * n * nodesize;
            i += n;
        }
        BlockDevice device = volume.device();
        for (IoRequest r : requests) {
            if (r.offset() < 0 || r.offset() + r.length() > device.size()) {
                throw new FsException(Errno.EIO, "tree block write of " + r.length() + " bytes at physical " + r.offset()
                        + " ends past the end of the device (" + device.size() + " bytes)");
            }
        }
        device.takePeakInFlight();
        IoBatch batch = device.submit(requests);
        long t1 = System.nanoTime();
        batch.await();
        long t2 = System.nanoTime();
        return new Writeout(dirty.size(), bytes, device.takePeakInFlight(), t1 - t0, t2 - t1);
    }

    /** The write-time tree checker over every dirty block of {@code tx} (each one was made by it). */
    private void checkBlocks(Transaction tx, byte[] fsid) throws CorruptBlockException {
        for (Map.Entry<Long, ByteBuffer> e : tx.dirtyBlocks().entrySet()) {
            long bytenr = e.getKey();
            Transaction.NewBlock made = tx.created().get(bytenr);
            if (made == null) {
                throw new CorruptBlockException(e.getValue().getLong(Header.OFFSET_OWNER), bytenr, -1,
                        "dirty block was not allocated by transaction " + tx.transid());
            }
            TreeChecker.checkBeforeWrite(e.getValue(), bytenr, fsid, nodesize, tx.transid(), made.owner, made.level,
                    csumType.size());
        }
    }

    /**
     * Writes space cache files (≈ btrfs_start_dirty_block_groups then btrfs_write_dirty_block_groups). Two-stage:
     * stage one submits the pages of every file without waiting, stage two reaps the completions in order, so the
     * device has them all in flight. Serial (for comparison only): each file is submitted and waited for before the
     * next, as the kernel did before "Btrfs: two stage dirty block group writeout".
     */
    CacheWriteout writeCaches(List<SpaceCacheWriter.PendingWrite> writes, boolean serial) throws FsException {
        BlockDevice device = volume.device();
        long t0 = System.nanoTime();
        // the pages go out from one aligned direct buffer kept across commits: no bounce copy, no allocation
        int total = 0;
        for (SpaceCacheWriter.PendingWrite w : writes) total += w.pages().length;
        ByteBuffer pages = staging(total);
        List<ByteBuffer> sources = new ArrayList<>(writes.size());
        for (SpaceCacheWriter.PendingWrite w : writes) {
            ByteBuffer slice = pages.slice(pages.position(), w.pages().length);
            slice.put(0, w.pages());
            sources.add(slice);
            pages.position(pages.position() + w.pages().length);
        }
        device.takePeakInFlight();
        Set<Long> failed = new HashSet<>();
        long bytes = 0;
        long submit = System.nanoTime() - t0;
        long wait = 0;
        List<IoRequest> requests = new ArrayList<>();
        List<Long> owners = new ArrayList<>();
        for (int i = 0; i < writes.size(); i++) {
            SpaceCacheWriter.PendingWrite w = writes.get(i);
            for (IoRequest r : volume.writeRequests(w.extent(), sources.get(i))) {
                requests.add(r);
                owners.add(w.blockGroup());
                bytes += r.length();
            }
            if (serial) {
                long t1 = System.nanoTime();
                IoBatch batch = device.submit(requests);
                long t2 = System.nanoTime();
                reap(batch, owners, failed);
                submit += t2 - t1;
                wait += System.nanoTime() - t2;
                requests.clear();
                owners.clear();
            }
        }
        if (!serial) {
            long t1 = System.nanoTime();
            IoBatch batch = device.submit(requests);
            long t2 = System.nanoTime();
            reap(batch, owners, failed);
            submit += t2 - t1;
            wait = System.nanoTime() - t2;
        }
        return new CacheWriteout(writes.size(), bytes, device.takePeakInFlight(), submit, wait, failed);
    }

    /** The staging buffer for {@code size} bytes of cache pages, aligned for O_DIRECT, position 0. */
    private ByteBuffer staging(int size) {
        if (staging == null || staging.capacity() < size) {
            staging = AlignedBuffers.allocateAligned(Math.max(size, 1 << 20), ALIGNMENT);
        }
        return staging.clear();
    }

    /** Stage two: every completion, in order; a failed request marks its file's group. */
    private static void reap(IoBatch batch, List<Long> owners, Set<Long> failed) throws FsException {
        for (int i = 0; i < batch.size(); i++) {
            try {
                batch.futures().get(i).get();
            } catch (ExecutionException e) {
                failed.add(owners.get(i));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EIO, "interrupted waiting for space cache writes");
            }
        }
    }

    /**
     * Flushes, writes {@code superBlock} (its 4096 bytes, fields already set) to every copy inside the device with
     * each copy's own bytenr and checksum, and flushes again.
     */
    public void writeSuperBlocks(ByteBuffer superBlock) throws IOException {
        BlockDevice device = volume.device();
        device.flush();
        List<IoRequest> writes = new ArrayList<>();
        for (long off : SuperBlock.MIRROR_OFFSETS) {
            if (off + SuperBlock.SIZE > device.size()) continue;
            ByteBuffer copy = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
            copy.put(0, superBlock.duplicate().clear(), 0, SuperBlock.SIZE);
            copy.putLong(SuperBlock.OFFSET_BYTENR, off);
            byte[] csum = new byte[ChecksumType.CSUM_SIZE];
            csumType.compute(copy, SuperBlock.CSUM_SIZE, SuperBlock.SIZE - SuperBlock.CSUM_SIZE, csum);
            copy.put(0, csum);
            writes.add(IoRequest.write(off, copy));
        }
        device.submit(writes).await();
        device.flush();
    }
}
