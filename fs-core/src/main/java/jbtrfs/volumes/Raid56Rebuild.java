package jbtrfs.volumes;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Reads a RAID5/6 data range by rebuilding it from the rest of its full stripe (≈ raid56_parity_recover): mirror 1
 * from P and the other data; on RAID6 mirror 2 from Q (P taken as lost too) and mirror 3 onwards from P and Q with one
 * more data stripe taken as lost, each in turn. A read of a stripe that fails (a missing device) fails the mirror.
 */
final class Raid56Rebuild {
    private Raid56Rebuild() {
    }

    /** Fills {@code dst} (inside one stripe_len unit) with the data at {@code address} rebuilt as {@code mirror} says. */
    static void read(Volume volume, Chunk chunk, long address, ByteBuffer dst, int mirror) throws IOException {
        int dataStripes = chunk.dataStripes();
        int lost = chunk.dataSlot(address);
        int n = dst.remaining();
        int alsoLost = mirror >= 3 ? otherDataSlot(lost, mirror - 3) : -1;
        byte[][] data = new byte[dataStripes][];
        for (int i = 0; i < dataStripes; i++) {
            if (i != lost && i != alsoLost) data[i] = slot(volume, chunk, address, i, n);
        }
        byte[] rebuilt;
        if (mirror == 1) {
            rebuilt = Parity.fromP(data, slot(volume, chunk, address, dataStripes, n), lost);
        } else if (mirror == 2) {
            rebuilt = Parity.fromQ(data, slot(volume, chunk, address, dataStripes + 1, n), lost);
        } else {
            byte[] p = slot(volume, chunk, address, dataStripes, n);
            byte[] q = slot(volume, chunk, address, dataStripes + 1, n);
            rebuilt = Parity.fromPQ(data, p, q, lost, alsoLost)[0];
        }
        dst.put(dst.position(), rebuilt);
    }

    /** The {@code k}-th data slot other than {@code lost}. */
    private static int otherDataSlot(int lost, int k) {
        return k < lost ? k : k + 1;
    }

    private static byte[] slot(Volume volume, Chunk chunk, long address, int slot, int n) throws IOException {
        byte[] b = new byte[n];
        volume.readAt(chunk.paritySlot(address, slot), address, ByteBuffer.wrap(b), false);
        return b;
    }
}
