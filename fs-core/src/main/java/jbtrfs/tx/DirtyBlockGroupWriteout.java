package jbtrfs.tx;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.device.AlignedBuffers;
import jbtrfs.device.IoBatch;
import jbtrfs.volumes.Volume;

/**
 * The v1 space cache pages of a commit's dirty block groups onto the device: the writeout jbtrfs is named for, the
 * Linux commit "Btrfs: two stage dirty block group writeout". {@link #startCacheWrites} is stage one
 * (≈ btrfs_start_dirty_block_groups): the pages of every group go out without waiting, so the device has them all
 * in flight; {@link #waitCacheIo} is stage two (≈ btrfs_wait_cache_io in btrfs_write_dirty_block_groups): the
 * completions are reaped in order and a failed one marks its group. Serial (the kernel before that commit, kept
 * for comparison): each group's pages are submitted and waited for before the next group's.
 */
public final class DirtyBlockGroupWriteout {
    /** O_DIRECT wants page-aligned memory; the kernel's pages are 4 KiB. */
    private static final int ALIGNMENT = 4096;

    private final Volume volume;
    private final boolean serial;
    /** The pages go out from one aligned direct buffer kept across commits: no bounce copy, no allocation. */
    private ByteBuffer staging;

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

    /** Stage one's requests, still in flight, and what the writeout has counted so far. */
    static final class InFlight {
        private final int groups;
        private final List<Volume.MemberWrite> requests = new ArrayList<>();
        /** The block group of each request, in submission order. */
        private final List<Long> owners = new ArrayList<>();
        private final Set<Long> failed = new HashSet<>();
        /** Per member, its requests' futures in the order of {@link #requests}. */
        private Map<Long, IoBatch> batch;
        private long bytes;
        private long submitNanos;
        private long waitNanos;

        private InFlight(int groups) {
            this.groups = groups;
        }
    }

    DirtyBlockGroupWriteout(Volume volume, boolean serial) {
        this.volume = volume;
        this.serial = serial;
    }

    /**
     * Stage one: copies every group's pages into the staging buffer and submits them all without waiting (serial:
     * submits and reaps each group's in turn).
     */
    InFlight startCacheWrites(List<SpaceCacheWriter.PendingWrite> writes) throws FsException {
        long t0 = System.nanoTime();
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
        volume.takePeakInFlight();
        InFlight f = new InFlight(writes.size());
        f.submitNanos = System.nanoTime() - t0;
        for (int i = 0; i < writes.size(); i++) {
            SpaceCacheWriter.PendingWrite w = writes.get(i);
            for (Volume.MemberWrite r : volume.writeRequests(w.extent(), sources.get(i))) {
                f.requests.add(r);
                f.owners.add(w.blockGroup());
                f.bytes += r.request().length();
            }
            if (serial) {
                submit(f);
                reap(f);
            }
        }
        if (!serial) submit(f);
        return f;
    }

    /** Stage two: every completion of stage one, in order; a failed request marks its group. */
    CacheWriteout waitCacheIo(InFlight f) throws FsException {
        if (f.batch != null) reap(f);
        return new CacheWriteout(f.groups, f.bytes, volume.takePeakInFlight(), f.submitNanos, f.waitNanos,
                f.failed);
    }

    private void submit(InFlight f) throws FsException {
        long t1 = System.nanoTime();
        f.batch = volume.submit(f.requests);
        f.submitNanos += System.nanoTime() - t1;
    }

    private static void reap(InFlight f) throws FsException {
        long t2 = System.nanoTime();
        Map<Long, Integer> next = new HashMap<>();
        for (int i = 0; i < f.requests.size(); i++) {
            long devid = f.requests.get(i).devid();
            int k = next.merge(devid, 1, Integer::sum) - 1;
            try {
                f.batch.get(devid).futures().get(k).get();
            } catch (ExecutionException e) {
                f.failed.add(f.owners.get(i));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FsException(Errno.EIO, "interrupted waiting for space cache writes");
            }
        }
        f.waitNanos += System.nanoTime() - t2;
        f.batch = null;
        f.requests.clear();
        f.owners.clear();
    }

    /** The staging buffer for {@code size} bytes of cache pages, aligned for O_DIRECT, position 0. */
    private ByteBuffer staging(int size) {
        if (staging == null || staging.capacity() < size) {
            staging = AlignedBuffers.allocateAligned(Math.max(size, 1 << 20), ALIGNMENT);
        }
        return staging.clear();
    }
}
