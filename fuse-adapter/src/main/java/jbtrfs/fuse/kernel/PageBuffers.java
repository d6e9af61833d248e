package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Direct buffers placed on a page boundary. A READ's data is read into the reply buffer, and the NIO device reads
 * file data O_DIRECT straight into a page-aligned buffer; into any other it reads through a bounce buffer and a copy
 * of every byte (a plain allocateDirect buffer starts wherever malloc put it).
 */
final class PageBuffers {
    static final int PAGE = 4096;

    private PageBuffers() {
    }

    /** A direct buffer of {@code capacity} bytes in native order whose byte {@code front} starts a page. */
    static ByteBuffer allocate(int capacity, int front) {
        ByteBuffer raw = ByteBuffer.allocateDirect(capacity + PAGE);
        int shift = Math.floorMod(-(raw.alignmentOffset(0, PAGE) + front), PAGE);
        return raw.slice(shift, capacity).order(ByteOrder.nativeOrder());
    }
}
