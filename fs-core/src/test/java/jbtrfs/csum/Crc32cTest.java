package jbtrfs.csum;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cTest {
    @Test
    void update_withInversions_equalsJdkCrc32c() {
        Random random = new Random(1);
        for (int len = 0; len < 300; len++) {
            byte[] data = new byte[len + 3];
            random.nextBytes(data);
            CRC32C jdk = new CRC32C();
            jdk.update(data, 3, len);
            int raw = Crc32c.update(~0, data, 3, len);
            assertEquals(jdk.getValue(), Integer.toUnsignedLong(~raw), "length " + len);
        }
    }

    @Test
    void update_checkValue() {
        // The CRC-32C check value of "123456789" (RFC 3720 / the CRC catalogue).
        byte[] data = "123456789".getBytes(StandardCharsets.US_ASCII);
        assertEquals(0xE3069283, ~Crc32c.update(~0, data));
    }

    @Test
    void update_isChainable() {
        byte[] data = new byte[1000];
        new Random(2).nextBytes(data);
        int whole = Crc32c.update(0x12345678, data);
        int split = Crc32c.update(Crc32c.update(0x12345678, data, 0, 333), data, 333, 667);
        assertEquals(whole, split);
    }

    @Test
    void update_byteBuffer_heapAndDirect() {
        byte[] data = new byte[777];
        new Random(3).nextBytes(data);
        ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data);
        ByteBuffer heap = ByteBuffer.wrap(data);
        int expected = Crc32c.update(5, data, 10, 700);
        assertEquals(expected, Crc32c.update(5, direct, 10, 700));
        assertEquals(expected, Crc32c.update(5, heap, 10, 700));
        assertEquals(data.length, direct.position(), "position untouched");
    }

    @Test
    void updateLe64_equalsLittleEndianBytes() {
        long v = 0x0102030405060708L;
        byte[] le = {8, 7, 6, 5, 4, 3, 2, 1};
        assertEquals(Crc32c.update(~0, le), Crc32c.updateLe64(~0, v));
    }
}
