package jbtrfs.tx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jbtrfs.csum.ChecksumType;
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

    /** Stage one and two for the tree blocks; returns when every copy is on the device (not yet flushed). */
    public Writeout writeBlocks(Map<Long, ByteBuffer> dirty) throws IOException {
        long t0 = System.nanoTime();
        List<IoRequest> requests = new ArrayList<>(dirty.size() * 2);
        byte[] csum = new byte[ChecksumType.CSUM_SIZE];
        for (Map.Entry<Long, ByteBuffer> e : dirty.entrySet()) {
            ByteBuffer b = e.getValue();
            b.putLong(Header.OFFSET_FLAGS, b.getLong(Header.OFFSET_FLAGS) | Header.FLAG_WRITTEN);
            java.util.Arrays.fill(csum, (byte) 0);
            csumType.compute(b, Header.CSUM_START, nodesize - Header.CSUM_START, csum);
            b.put(Header.OFFSET_CSUM, csum);
            requests.addAll(volume.writeRequests(e.getKey(), b.duplicate().clear()));
        }
        BlockDevice device = volume.device();
        device.takePeakInFlight();
        IoBatch batch = device.submit(requests);
        long t1 = System.nanoTime();
        batch.await();
        long t2 = System.nanoTime();
        return new Writeout(dirty.size(), (long) requests.size() * nodesize, device.takePeakInFlight(), t1 - t0,
                t2 - t1);
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
