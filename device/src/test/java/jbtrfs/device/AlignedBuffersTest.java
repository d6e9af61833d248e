package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Buffers are aligned, sized as asked, and reused. */
class AlignedBuffersTest {
    @Test
    void everySize_alignedAndLimited() {
        AlignedBuffers pool = new AlignedBuffers(4096, 4);
        for (int len : new int[] {1, 511, 512, 4095, 4096, 4097, 16384, 65536, 1 << 20, (1 << 20) + 1, 3 << 20}) {
            ByteBuffer b = pool.acquire(len);
            assertTrue(b.isDirect());
            assertEquals(0, b.position());
            assertEquals(len, b.limit());
            assertTrue(b.capacity() >= len);
            assertEquals(0, NativeMemory.address(b) % 4096, "length " + len);
            pool.release(b);
        }
        ByteBuffer small = AlignedBuffers.allocateAligned(512, 4096);
        assertEquals(512, small.capacity());
        assertEquals(0, NativeMemory.address(small) % 4096);
    }

    @Test
    void released_isReusedForTheSameSizeClass() {
        AlignedBuffers pool = new AlignedBuffers(4096, 4);
        ByteBuffer a = pool.acquire(10000);
        pool.release(a);
        assertSame(a, pool.acquire(16384));
    }
}
