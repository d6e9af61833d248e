package jbtrfs.device;

import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.IgnoreError;

/**
 * Linux native AIO from Debian's libaio1 ({@code libaio.so.1}). Each call returns 0 or a count on success and
 * {@code -errno} on failure (libaio does not use errno). Pointers are passed as raw addresses.
 *
 * <p>Structures (linux/aio_abi.h, little-endian 64-bit): {@code struct iocb} is 64 bytes: aio_data u64 @0,
 * aio_key u32 @8, aio_rw_flags u32 @12, aio_lio_opcode u16 @16, aio_reqprio s16 @18, aio_fildes u32 @20,
 * aio_buf u64 @24, aio_nbytes u64 @32, aio_offset s64 @40, reserved u64 @48, aio_flags u32 @56,
 * aio_resfd u32 @60. {@code struct io_event} is 32 bytes: data u64 @0, obj u64 @8, res s64 @16, res2 s64 @24.
 */
public interface LibAio {
    int IOCB_SIZE = 64;
    int IOCB_DATA = 0;
    int IOCB_OPCODE = 16;
    int IOCB_FILDES = 20;
    int IOCB_BUF = 24;
    int IOCB_NBYTES = 32;
    int IOCB_OFFSET = 40;
    int EVENT_SIZE = 32;
    int EVENT_DATA = 0;
    int EVENT_RES = 16;
    short CMD_PREAD = 0;
    short CMD_PWRITE = 1;
    short CMD_FSYNC = 2;
    short CMD_FDSYNC = 3;

    /** Creates a context for {@code maxEvents} requests; writes it to the 8 bytes at {@code ctxp}, which must be 0. */
    @IgnoreError
    int io_setup(int maxEvents, long ctxp);

    /** Cancels what it can, waits for the rest, frees the context. */
    @IgnoreError
    int io_destroy(long ctx);

    /** Queues {@code nr} iocbs from the pointer array at {@code iocbpp}; returns how many were taken. */
    @IgnoreError
    int io_submit(long ctx, long nr, long iocbpp);

    /** Waits for at least {@code minNr} and reaps at most {@code nr} events, up to the timespec at {@code timeout}. */
    @IgnoreError
    int io_getevents(long ctx, long minNr, long nr, long events, long timeout);

    /** The loaded library, or null when libaio.so.1 is missing. */
    static LibAio load() {
        return Holder.AIO;
    }

    /** Lazily loads libaio once. */
    final class Holder {
        static final LibAio AIO = tryLoad();

        private Holder() {
        }

        private static LibAio tryLoad() {
            if (LibC.load() == null) return null;
            for (String name : new String[] {"libaio.so.1", "aio"}) {
                try {
                    return LibraryLoader.create(LibAio.class).failImmediately().load(name);
                } catch (Throwable t) {
                    // try the next name
                }
            }
            return null;
        }
    }
}
