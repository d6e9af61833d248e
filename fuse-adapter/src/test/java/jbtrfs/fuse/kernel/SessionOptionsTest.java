package jbtrfs.fuse.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What INIT asks for follows the options, and every with-method keeps the others. */
class SessionOptionsTest {
    @Test
    void ioUring_asksOverIoUringAtInit_andEveryWitherKeepsIt() {
        SessionOptions plain = SessionOptions.defaults();
        assertFalse(plain.ioUring());
        assertEquals(0, plain.wantedFlags() & FuseAbi.OVER_IO_URING);
        SessionOptions ring = plain.withIoUring(true);
        assertEquals(FuseAbi.OVER_IO_URING, ring.wantedFlags() & FuseAbi.OVER_IO_URING);
        assertEquals(plain.wantedFlags(), ring.wantedFlags() & ~FuseAbi.OVER_IO_URING, "nothing else changes");
        SessionOptions changed = ring.withThreads(7).withWritebackCache(false).withPosixAcl(true)
                .withMaxReadahead(4096);
        assertTrue(changed.ioUring());
        assertEquals(new SessionOptions(7, false, true, 4096, plain.maxBackground(), true), changed);
    }
}
