package jbtrfs.volumes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;

/**
 * RAID5/6 parity: P and Q as computed here equal what the kernel wrote on each full stripe of a set it filled (so
 * the rotation of the slots and the Reed-Solomon syndrome are the kernel's), and every lost stripe or pair of
 * stripes comes back from what is left.
 */
class ParityTest {
    @TempDir
    Path tmp;

    @Test
    void gf256_multipliesModuloTheRaid6Polynomial() {
        assertEquals(0x1d, Parity.mul(0x80, 2), "x^8 reduces by 0x11d");
        assertEquals(1, Parity.mul(Parity.div(1, 0x53), 0x53));
        for (int a = 1; a < 256; a++) assertEquals(a, Parity.div(Parity.mul(a, 0xb7), 0xb7));
    }

    @ParameterizedTest(name = "{0} data stripes")
    @CsvSource({"1", "2", "3", "5"})
    void everyLostStripe_orPair_isRebuilt(int dataStripes) {
        Random r = new Random(dataStripes);
        byte[][] data = new byte[dataStripes][4096];
        for (byte[] d : data) r.nextBytes(d);
        byte[] p = Parity.p(data);
        byte[] q = Parity.q(data);
        for (int x = 0; x < dataStripes; x++) {
            byte[][] lost = without(data, x, -1);
            assertArrayEquals(data[x], Parity.fromP(lost, p, x), "from P, stripe " + x);
            assertArrayEquals(data[x], Parity.fromQ(lost, q, x), "from Q, stripe " + x);
            for (int y = 0; y < dataStripes; y++) {
                if (y == x) continue;
                byte[][] both = Parity.fromPQ(without(data, x, y), p, q, x, y);
                assertArrayEquals(data[x], both[0], "from P and Q, stripes " + x + " and " + y);
                assertArrayEquals(data[y], both[1], "from P and Q, stripes " + x + " and " + y);
            }
        }
    }

    @ParameterizedTest(name = "{0} over {1}")
    @CsvSource({"raid5, 3", "raid6, 4", "raid6, 3"})
    void parityOnKernelWrittenSet_equalsComputed(String profile, int members) throws Exception {
        Images.requireKernelBtrfs();
        List<Path> files = MemberSets.mkfs(tmp, members, 128, "-d", profile, "-m", profile);
        MemberSets.withKernelMount(files, tmp, "", mnt -> Shell.sh(
                "head -c 3000000 /dev/urandom > a.bin; seq 1 100000 > b.txt; sync", mnt));
        Map<Long, FileChannel> byDevid = new HashMap<>();
        try {
            for (Path f : files) {
                FileChannel ch = FileChannel.open(f, StandardOpenOption.READ);
                byDevid.put(read(ch, SuperBlock.MIRROR_OFFSETS[0] + SuperBlock.OFFSET_DEV_ITEM, 8)
                        .order(ByteOrder.LITTLE_ENDIAN).getLong(0), ch);
            }
            List<String> cmd = new ArrayList<>(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "chunk",
                    "--noscan"));
            for (Path f : files) cmd.add(f.toString());
            int checked = 0;
            for (Chunk c : parityChunks(Shell.run(cmd))) {
                int dataStripes = c.dataStripes();
                boolean raid6 = c.item().numStripes() - dataStripes == 2;
                long fullStripeBytes = dataStripes * ChunkItem.STRIPE_LEN;
                for (long at = c.logical(); at < c.end(); at += fullStripeBytes) {
                    byte[][] data = new byte[dataStripes][];
                    boolean written = false;
                    for (int i = 0; i < dataStripes; i++) {
                        data[i] = slot(byDevid, c, at, i);
                        for (byte b : data[i]) written |= b != 0;
                    }
                    byte[] p = slot(byDevid, c, at, dataStripes);
                    boolean parityWritten = false;
                    for (byte b : p) parityWritten |= b != 0;
                    // a full stripe the kernel never wrote may hold stale bytes (mkfs's first chunks) and no parity;
                    // one over a superblock copy is never allocated, the superblock written there without parity
                    if (!written || !parityWritten || holdsSuperblock(c, at)) continue;
                    checked++;
                    assertArrayEquals(Parity.p(data), p, "P of the full stripe at " + at);
                    if (raid6) {
                        assertArrayEquals(Parity.q(data), slot(byDevid, c, at, dataStripes + 1),
                                "Q of the full stripe at " + at);
                    }
                }
            }
            assertTrue(checked >= 20, "full stripes with data: " + checked);
        } finally {
            for (FileChannel ch : byDevid.values()) ch.close();
        }
    }

    private static byte[] slot(Map<Long, FileChannel> byDevid, Chunk c, long at, int slot) throws IOException {
        Chunk.Placement place = c.paritySlot(at, slot);
        return read(byDevid.get(place.devid()), place.physical(), (int) ChunkItem.STRIPE_LEN).array();
    }

    private static boolean holdsSuperblock(Chunk c, long at) {
        for (int slot = 0; slot < c.item().numStripes(); slot++) {
            long physical = c.paritySlot(at, slot).physical();
            for (long mirror : SuperBlock.MIRROR_OFFSETS) {
                if (mirror >= physical && mirror < physical + ChunkItem.STRIPE_LEN) return true;
            }
        }
        return false;
    }

    private static ByteBuffer read(FileChannel ch, long offset, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b, offset + b.position()) < 0) break;
        }
        return b;
    }

    private static final Pattern CHUNK = Pattern.compile("CHUNK_ITEM (\\d+)\\).*?\\n\\s+length (\\d+) owner \\d+ "
            + "stripe_len (\\d+) type \\S+\\|(RAID5|RAID6)\\n.*?num_stripes (\\d+) sub_stripes (\\d+)", Pattern.DOTALL);
    private static final Pattern STRIPE = Pattern.compile("stripe (\\d+) devid (\\d+) offset (\\d+)");

    /** The RAID5/6 chunks dump-tree lists, as our Chunk records. */
    private static List<Chunk> parityChunks(String dump) {
        List<Chunk> out = new ArrayList<>();
        for (String item : dump.split("\\n\\s+item ")) {
            Matcher m = CHUNK.matcher(item);
            if (!m.find()) continue;
            long type = BlockGroupFlags.DATA | (m.group(4).equals("RAID5") ? BlockGroupFlags.RAID5 : BlockGroupFlags.RAID6);
            List<Stripe> stripes = new ArrayList<>();
            Matcher s = STRIPE.matcher(item);
            while (s.find()) stripes.add(new Stripe(Long.parseLong(s.group(2)), Long.parseLong(s.group(3)), new byte[16]));
            int n = Integer.parseInt(m.group(5));
            assertEquals(n, stripes.size(), item);
            out.add(new Chunk(Long.parseLong(m.group(1)), new ChunkItem(Long.parseLong(m.group(2)), 2,
                    Long.parseLong(m.group(3)), type, 65536, 65536, 4096, n, Integer.parseInt(m.group(6)), stripes)));
        }
        assertTrue(!out.isEmpty(), "dump-tree lists RAID5/6 chunks");
        return out;
    }

    private static byte[][] without(byte[][] data, int x, int y) {
        byte[][] out = data.clone();
        out[x] = null;
        if (y >= 0) out[y] = null;
        return out;
    }
}
