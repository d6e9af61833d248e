package jbtrfs.volumes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
        SetParity.Result r = SetParity.check(files);
        assertEquals(List.of(), r.mismatches());
        assertTrue(r.checked() >= 20, "full stripes with data: " + r.checked());
    }

    private static byte[][] without(byte[][] data, int x, int y) {
        byte[][] out = data.clone();
        out[x] = null;
        if (y >= 0) out[y] = null;
        return out;
    }
}
