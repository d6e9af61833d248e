package jbtrfs.tx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** A bitmap item's bits set a byte at a time must be the bits set one by one (bit i of byte i/8, LSB first). */
class FreeSpaceBitsTest {
    @Test
    void setBits_equalsSettingEachBit() {
        Random rnd = new Random(3);
        for (int round = 0; round < 5000; round++) {
            byte[] fast = new byte[rnd.nextInt(40) + 1];
            byte[] slow = fast.clone();
            for (int n = rnd.nextInt(4); n >= 0; n--) {
                int from = rnd.nextInt(fast.length * 8);
                int to = from + rnd.nextInt(fast.length * 8 - from + 1);
                FreeSpaceTreeWriter.setBits(fast, from, to);
                for (int s = from; s < to; s++) slow[s >>> 3] |= (byte) (1 << (s & 7));
            }
            assertArrayEquals(slow, fast, "round " + round);
        }
    }
}
