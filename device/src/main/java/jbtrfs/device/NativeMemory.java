package jbtrfs.device;

import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/** Native memory the device allocates itself (AIO control blocks, events), counted so tests can see leaks. */
final class NativeMemory {
    private static final MemoryIO IO = MemoryIO.getInstance();
    private static final AtomicLong OUTSTANDING = new AtomicLong();

    private NativeMemory() {
    }

    /** Zeroed native memory of {@code bytes}; pair with {@link #free}. */
    static long allocate(long bytes) {
        long address = IO.allocateMemory(bytes, true);
        if (address == 0) throw new OutOfMemoryError("native allocation of " + bytes + " bytes failed");
        OUTSTANDING.addAndGet(bytes);
        return address;
    }

    static void free(long address, long bytes) {
        if (address != 0) {
            IO.freeMemory(address);
            OUTSTANDING.addAndGet(-bytes);
        }
    }

    /** Bytes allocated here and not yet freed, across all devices. */
    static long outstanding() { return OUTSTANDING.get(); }

    static void putLong(long address, long value) { IO.putLong(address, value); }

    static void putInt(long address, int value) { IO.putInt(address, value); }

    static void putShort(long address, short value) { IO.putShort(address, value); }

    static long getLong(long address) { return IO.getLong(address); }

    static int getInt(long address) { return IO.getInt(address); }

    /** The address of a direct buffer's first byte (index 0, not its position). */
    static long address(ByteBuffer direct) { return IO.getDirectBufferAddress(direct); }
}
