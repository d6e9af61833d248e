package jbtrfs.device;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A pool of direct buffers whose start address is aligned for O_DIRECT, in power-of-two size classes.
 *
 * <p>Why not Netty's PooledByteBufAllocator: its arenas carve buffers at arbitrary offsets unless one turns on
 * the experimental {@code directMemoryCacheAlignment}, every use would go through ByteBuf to nioBuffer
 * conversions, and it would bring netty-common into a module that should stay small. The device needs only a
 * handful of sizes (sector, tree node, extent chunks up to 1 MiB), each reused over and over, which a free
 * list per size class serves with no per-request allocation. Buffers are plain direct ByteBuffers, freed by
 * the JDK's cleaner when the pool drops them.
 */
public final class AlignedBuffers {
    /** Largest pooled size class; bigger buffers are allocated and dropped on release. */
    public static final int MAX_POOLED = 1 << 20;

    private final int alignment;
    private final int minShift;
    private final int perClass;
    private final ConcurrentLinkedDeque<ByteBuffer>[] free;
    private final AtomicInteger[] counts;

    /**
     * @param alignment power of two; every buffer's address is a multiple of it
     * @param perClass  most idle buffers kept per size class
     */
    @SuppressWarnings("unchecked")
    public AlignedBuffers(int alignment, int perClass) {
        if (Integer.bitCount(alignment) != 1) throw new IllegalArgumentException("alignment " + alignment);
        this.alignment = alignment;
        this.minShift = Integer.numberOfTrailingZeros(Math.max(alignment, 4096));
        this.perClass = perClass;
        int classes = Math.max(1, Integer.numberOfTrailingZeros(MAX_POOLED) - minShift + 1);
        free = new ConcurrentLinkedDeque[classes];
        counts = new AtomicInteger[classes];
        for (int i = 0; i < classes; i++) {
            free[i] = new ConcurrentLinkedDeque<>();
            counts[i] = new AtomicInteger();
        }
    }

    /** The alignment of every buffer handed out. */
    public int alignment() { return alignment; }

    /** A buffer with position 0 and limit {@code length}, aligned, contents undefined. */
    public ByteBuffer acquire(int length) {
        int cls = sizeClass(length);
        if (cls < free.length) {
            ByteBuffer b = free[cls].pollFirst();
            if (b != null) {
                counts[cls].decrementAndGet();
                return b.clear().limit(length);
            }
            return allocate(1 << (cls + minShift)).limit(length);
        }
        return allocate(roundUp(length)).limit(length);
    }

    /** Returns a buffer from {@link #acquire}; it must not be used afterwards. */
    public void release(ByteBuffer b) {
        int cls = Integer.numberOfTrailingZeros(b.capacity()) - minShift;
        if (Integer.bitCount(b.capacity()) == 1 && cls >= 0 && cls < free.length
                && counts[cls].incrementAndGet() <= perClass) {
            free[cls].offerFirst(b);
        } else if (cls >= 0 && cls < free.length && Integer.bitCount(b.capacity()) == 1) {
            counts[cls].decrementAndGet();
        }
    }

    /** Allocates a fresh aligned direct buffer of exactly {@code capacity} bytes (not pooled). */
    public static ByteBuffer allocateAligned(int capacity, int alignment) {
        // alignedSlice also rounds the end down to the alignment, so reserve whole aligned units
        int units = (capacity + alignment - 1) / alignment;
        ByteBuffer raw = ByteBuffer.allocateDirect((units + 1) * alignment);
        return raw.alignedSlice(alignment).limit(capacity).slice();
    }

    private ByteBuffer allocate(int capacity) {
        return allocateAligned(capacity, alignment);
    }

    private int sizeClass(int length) {
        if (length <= 0) return 0;
        int shift = 32 - Integer.numberOfLeadingZeros(length - 1);
        return Math.max(0, shift - minShift);
    }

    private int roundUp(int length) {
        return (length + alignment - 1) & -alignment;
    }
}
