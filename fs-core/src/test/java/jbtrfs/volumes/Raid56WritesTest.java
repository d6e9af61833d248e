package jbtrfs.volumes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import jbtrfs.FsException;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Stripe;

/**
 * Writes into RAID5/6 chunks on in-memory members: after any mix of whole and partial full stripes, in one batch or
 * queued one by one, every full stripe's P (and Q) on the members is the parity of its data, the data reads back
 * as written, and rebuilt from parity too. A whole full stripe is written without reading anything.
 */
class Raid56WritesTest {
    private static final int STRIPE = (int) ChunkItem.STRIPE_LEN;
    private static final long LOGICAL = 1L << 30;
    /** Each member's stripe starts here; the chunk has 8 rows. */
    private static final long PHYSICAL = 1L << 20;
    private static final int ROWS = 8;

    private static Volume volume(long profile, int members, FaultPlan plan) {
        Map<Long, BlockDevice> devices = new TreeMap<>();
        List<Stripe> stripes = new ArrayList<>();
        for (long devid = 1; devid <= members; devid++) {
            devices.put(devid, MemoryBlockDevice.create(new byte[(int) PHYSICAL + ROWS * STRIPE], 8, plan, devid,
                    new SimpleMeterRegistry()));
            stripes.add(new Stripe(devid, PHYSICAL, new byte[16]));
        }
        int dataStripes = members - (profile == BlockGroupFlags.RAID6 ? 2 : 1);
        ChunkMap map = new ChunkMap();
        map.add(LOGICAL, new ChunkItem((long) ROWS * STRIPE * dataStripes, 2, STRIPE, BlockGroupFlags.DATA | profile,
                4096, 4096, 4096, members, 1, stripes));
        return new Volume(1, devices, map);
    }

    /** Every full stripe's parity on the members equals the parity of its data there. */
    private static void assertParityOfData(Volume v) {
        Chunk c = v.chunks().find(LOGICAL);
        int dataStripes = c.dataStripes();
        for (int row = 0; row < ROWS; row++) {
            long at = LOGICAL + (long) row * STRIPE * dataStripes;
            byte[][] data = new byte[dataStripes][];
            for (int i = 0; i < dataStripes; i++) data[i] = slot(v, c, at, i);
            assertArrayEquals(Parity.p(data), slot(v, c, at, dataStripes), "P of row " + row);
            if (c.item().numStripes() - dataStripes == 2) {
                assertArrayEquals(Parity.q(data), slot(v, c, at, dataStripes + 1), "Q of row " + row);
            }
        }
    }

    /** A slot's stripe_len unit of the full stripe at {@code at}, as the member holds it (whatever its faults). */
    private static byte[] slot(Volume v, Chunk c, long at, int slot) {
        Chunk.Placement place = c.paritySlot(at, slot);
        byte[] all = ((MemoryBlockDevice) v.members().get(place.devid())).snapshot();
        return Arrays.copyOfRange(all, (int) place.physical(), (int) place.physical() + STRIPE);
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** What the logical space should hold after the writes, and checks it reads back so, as every copy. */
    private static void assertReadsBack(Volume v, byte[] expected) throws Exception {
        int copies = v.copies(LOGICAL);
        for (int mirror = 0; mirror < copies; mirror++) {
            for (int at = 0; at < expected.length; at += STRIPE) {
                ByteBuffer got = ByteBuffer.allocate(STRIPE);
                v.read(LOGICAL + at, got, mirror);
                assertArrayEquals(Arrays.copyOfRange(expected, at, at + STRIPE), got.array(),
                        "copy " + mirror + " at " + at);
            }
        }
    }

    @ParameterizedTest(name = "{0} over {1}")
    @CsvSource({"RAID5, 3", "RAID5, 4", "RAID6, 4", "RAID6, 5"})
    void partialWritesOfOneFullStripe_inOneBatch_giveParityOfAllTheData(String profile, int members)
            throws Exception {
        Volume v = volume(profile.equals("RAID5") ? BlockGroupFlags.RAID5 : BlockGroupFlags.RAID6, members,
                FaultPlan.none());
        int dataStripes = v.chunks().find(LOGICAL).dataStripes();
        byte[] expected = new byte[ROWS * STRIPE * dataStripes];
        Random r = new Random(members);
        List<Volume.Write> batch = new ArrayList<>();
        // the same rows of two data stripes of row 0, a range over a unit boundary, a range written twice, and
        // the whole of row 2
        int[][] ranges = {{4096, 8192}, {STRIPE + 4096, 4096}, {STRIPE - 4096, 12288}, {8192, 4096},
                {2 * STRIPE * dataStripes, STRIPE * dataStripes}};
        for (int[] range : ranges) {
            byte[] bytes = random(r, range[1]);
            System.arraycopy(bytes, 0, expected, range[0], range[1]);
            batch.add(new Volume.Write(LOGICAL + range[0], ByteBuffer.wrap(bytes)));
        }
        Volume.await(v.submit(v.writeRequests(batch)));
        assertParityOfData(v);
        assertReadsBack(v, expected);
    }

    @Test
    void writesQueuedOneByOne_intoOneFullStripe_eachReadTheOnesBefore() throws Exception {
        Volume v = volume(BlockGroupFlags.RAID6, 5, FaultPlan.none());
        byte[] expected = new byte[ROWS * STRIPE * 3];
        Random r = new Random(7);
        for (int i = 0; i < 40; i++) {
            int at = r.nextInt(2 * STRIPE * 3 / 4096) * 4096;
            int n = Math.min(expected.length - at, (1 + r.nextInt(40)) * 4096);
            byte[] bytes = random(r, n);
            System.arraycopy(bytes, 0, expected, at, n);
            v.writeBehind(LOGICAL + at, ByteBuffer.wrap(bytes));
        }
        v.drainWrites();
        assertParityOfData(v);
        assertReadsBack(v, expected);
    }

    @Test
    void wholeFullStripe_isWrittenWithoutAnyRead() throws Exception {
        // every read fails: a whole full stripe still goes out, a partial one cannot (it must read the rest)
        Volume v = volume(BlockGroupFlags.RAID5, 3, FaultPlan.none().failRange(0, Long.MAX_VALUE, true, false));
        byte[] whole = random(new Random(1), 2 * STRIPE);
        Volume.await(v.submit(v.writeRequests(LOGICAL + 2L * STRIPE, ByteBuffer.wrap(whole))));
        assertThrows(FsException.class, () -> v.writeRequests(LOGICAL, ByteBuffer.wrap(new byte[4096])));
        Chunk c = v.chunks().find(LOGICAL);
        long row1 = LOGICAL + 2L * STRIPE;
        assertArrayEquals(Arrays.copyOfRange(whole, 0, STRIPE), slot(v, c, row1, 0));
        assertArrayEquals(Arrays.copyOfRange(whole, STRIPE, 2 * STRIPE), slot(v, c, row1, 1));
        assertArrayEquals(Parity.p(new byte[][] {slot(v, c, row1, 0), slot(v, c, row1, 1)}), slot(v, c, row1, 2));
    }

    @Test
    void repairOfTheData_orOfP_leavesTheParityOfTheData() throws Exception {
        Volume v = volume(BlockGroupFlags.RAID5, 3, FaultPlan.none());
        byte[] whole = random(new Random(3), 2 * STRIPE);
        Volume.await(v.submit(v.writeRequests(LOGICAL, ByteBuffer.wrap(whole))));
        Chunk c = v.chunks().find(LOGICAL);
        // a sector of the data and one of P go bad; each is written back as copy 0 and copy 1
        Chunk.Placement data = c.paritySlot(LOGICAL, 0);
        v.members().get(data.devid()).write(data.physical() + 4096, ByteBuffer.allocate(4096));
        Chunk.Placement p = c.paritySlot(LOGICAL, 2);
        v.members().get(p.devid()).write(p.physical() + 8192, ByteBuffer.allocate(4096));
        v.repairCopy(LOGICAL + 4096, ByteBuffer.wrap(whole, 4096, 4096).slice(), 0);
        v.repairCopy(LOGICAL + 8192, ByteBuffer.wrap(whole, 8192, 4096).slice(), 1);
        assertParityOfData(v);
        assertArrayEquals(Arrays.copyOfRange(whole, 0, STRIPE), slot(v, c, LOGICAL, 0));
    }
}
