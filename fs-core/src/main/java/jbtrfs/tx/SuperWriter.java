package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import jbtrfs.CorruptBlockException;
import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.TreeChecker;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.IoBatch;
import jbtrfs.device.IoRequest;
import jbtrfs.format.Header;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.volumes.Volume;

/**
 * The tree block and superblock writes of a commit (≈ btrfs_write_and_wait_transaction and write_all_supers):
 * stage one checksums every dirty tree block and submits all copies without waiting; stage two reaps the
 * completions; then a flush, every superblock copy, and a flush again. Until the first superblock lands the disk
 * still holds the previous transaction, whose blocks were never overwritten.
 */
public final class SuperWriter {
    /** The most bytes of adjacent tree blocks one write carries: a big commit still has many writes in flight. */
    private static final int MAX_MERGED_WRITE = 1 << 20;

    private final Volume volume;
    private final ChecksumType csumType;
    private final int nodesize;

    /** Figures of one writeout, for meters and logs. */
    public record Writeout(int treeBlocks, long bytes, int peakInFlight, long submitNanos, long waitNanos) {
    }

    public SuperWriter(Volume volume, ChecksumType csumType, int nodesize) {
        this.volume = volume;
        this.csumType = csumType;
        this.nodesize = nodesize;
    }

    /** Stage one's tree block writes, in flight. */
    record BlocksInFlight(Map<Long, IoBatch> batches, int treeBlocks, long bytes, long startNanos,
                          long submittedNanos) {
    }

    /**
     * Stage one for the tree blocks of {@code tx}: checksums them and submits every copy without waiting. Every
     * block passes the write-time tree checker first: one that fails, or a copy that would land past the end of
     * the device, stops the writeout before any request goes out.
     */
    BlocksInFlight startBlockWrites(Transaction tx, byte[] fsid) throws IOException {
        long t0 = System.nanoTime();
        checkBlocks(tx, fsid);
        return submitBlocks(tx.dirtyBlocks(), t0);
    }

    /**
     * Stage one for a log sync's blocks (≈ btrfs_write_marked_extents of the log trees): each passes the
     * write-time tree checker as a block of the log, of the running transaction {@code transid}.
     */
    BlocksInFlight startLogBlockWrites(Map<Long, ByteBuffer> blocks, byte[] fsid, long transid) throws IOException {
        long t0 = System.nanoTime();
        for (Map.Entry<Long, ByteBuffer> e : blocks.entrySet()) {
            TreeChecker.checkBeforeWrite(e.getValue(), e.getKey(), fsid, nodesize, transid, ObjectIds.TREE_LOG,
                    Byte.toUnsignedInt(e.getValue().get(Header.OFFSET_LEVEL)), csumType.size());
        }
        return submitBlocks(blocks, t0);
    }

    /** Checksums {@code dirty} and submits every copy without waiting. */
    private BlocksInFlight submitBlocks(Map<Long, ByteBuffer> dirty, long t0) throws IOException {
        byte[] csum = new byte[ChecksumType.CSUM_SIZE];
        for (ByteBuffer b : dirty.values()) {
            b.putLong(Header.OFFSET_FLAGS, b.getLong(Header.OFFSET_FLAGS) | Header.FLAG_WRITTEN);
            Arrays.fill(csum, (byte) 0);
            csumType.compute(b, Header.CSUM_START, nodesize - Header.CSUM_START, csum);
            b.put(Header.OFFSET_CSUM, csum);
        }
        // blocks side by side in one chunk go out as one write per copy (as the block layer merges adjacent bios):
        // copy-on-write allocates a commit's blocks mostly in a row, so an fsync's ~10 blocks take 2 writes, not 20
        List<Long> addresses = new ArrayList<>(dirty.keySet());
        addresses.sort(Long::compareUnsigned);
        List<Volume.Write> writes = new ArrayList<>();
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
            writes.add(new Volume.Write(first, src));
            i += n;
        }
        volume.takePeakInFlight();
        Volume.SubmittedWrites submitted;
        try {
            // every member's queue before any is reaped; blocks of one RAID5/6 full stripe share one parity write.
            // The bytes are the requests': copies() counts RAID5/6's ways to read (data and its rebuilds), not writes
            submitted = volume.submitWrites(writes);
        } catch (FsException e) {
            throw new FsException(e.errno(), "tree block " + e.getMessage());
        }
        return new BlocksInFlight(submitted.batches(), dirty.size(), submitted.bytes(), t0, System.nanoTime());
    }

    /** Stage two for the tree blocks: returns when every copy is on the device (not yet flushed). */
    Writeout waitBlockIo(BlocksInFlight f) throws IOException {
        Volume.await(f.batches());
        long t2 = System.nanoTime();
        return new Writeout(f.treeBlocks(), f.bytes(), volume.takePeakInFlight(),
                f.submittedNanos() - f.startNanos(), t2 - f.submittedNanos());
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
     * The dev_item each member's superblock carries, by devid (the chunk tree's DEV_ITEM with the bytes_used of this
     * commit, as write_all_supers fills it from each device); null for a filesystem of one device, whose superblock
     * keeps its own.
     */
    interface MemberDevItems {
        Map<Long, byte[]> get();
    }

    private MemberDevItems devItems = () -> null;

    void setMemberDevItems(MemberDevItems devItems) {
        this.devItems = devItems;
    }

    /**
     * Flushes every member, writes {@code superBlock} (its 4096 bytes, fields already set) to every copy inside each
     * member with each copy's own bytenr, the member's dev_item and checksum, and flushes every member again.
     */
    public void writeSuperBlocks(ByteBuffer superBlock) throws IOException {
        writeSuperBlocks(superBlock, SuperBlock.MIRROR_OFFSETS.length);
    }

    /**
     * A log sync's superblock: only the primary copy on each member, between flushes, as the kernel's btrfs_sync_log
     * writes it (write_all_supers with one mirror); the copies keep the last commit.
     */
    void writeLogSuperBlock(ByteBuffer superBlock) throws IOException {
        writeSuperBlocks(superBlock, 1);
    }

    private void writeSuperBlocks(ByteBuffer superBlock, int mirrors) throws IOException {
        Map<Long, byte[]> items = devItems.get();
        volume.flush();
        List<Volume.MemberWrite> writes = new ArrayList<>();
        for (Map.Entry<Long, BlockDevice> m : volume.members().entrySet()) {
            byte[] item = items == null ? null : items.get(m.getKey());
            if (items != null && item == null) {
                throw new FsException(Errno.EIO, "no dev item for device " + m.getKey() + " to write its superblock");
            }
            for (int i = 0; i < mirrors; i++) {
                long off = SuperBlock.MIRROR_OFFSETS[i];
                if (off + SuperBlock.SIZE > m.getValue().size()) continue;
                ByteBuffer copy = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
                copy.put(0, superBlock.duplicate().clear(), 0, SuperBlock.SIZE);
                copy.putLong(SuperBlock.OFFSET_BYTENR, off);
                if (item != null) copy.put(SuperBlock.OFFSET_DEV_ITEM, item);
                byte[] csum = new byte[ChecksumType.CSUM_SIZE];
                csumType.compute(copy, SuperBlock.CSUM_SIZE, SuperBlock.SIZE - SuperBlock.CSUM_SIZE, csum);
                copy.put(0, csum);
                writes.add(new Volume.MemberWrite(m.getKey(), i, IoRequest.write(off, copy)));
            }
        }
        if (writes.size() == 1) {
            // a log sync's one copy: written on this thread where the engine allows (no hop to a pool and back)
            IoRequest w = writes.get(0).request();
            volume.members().get(writes.get(0).devid()).write(w.offset(), w.buffer());
        } else {
            Volume.await(volume.submit(writes));
        }
        volume.flush();
    }
}
