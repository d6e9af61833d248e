package jbtrfs.fuse;

import java.lang.reflect.Method;

import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import ru.serce.jnrfuse.struct.FuseOperations;

/**
 * The flags word of libfuse 2's struct fuse_operations, which jnr-fuse has no setter for: without
 * flag_utime_omit_ok libfuse 2 drops a utimensat that sets only one of the two times instead of passing UTIME_OMIT
 * for the other.
 */
final class FuseOperationsFlags {
    private FuseOperationsFlags() {
    }

    /** Sets flag_utime_omit_ok (bit 2 of the flags word) in {@code fuseOperations}; returns it. */
    static Struct setUtimeOmitOk(FuseOperations fuseOperations) {
        Pointer mem = Struct.getMemory(fuseOperations);
        long flags = flagsOffset(fuseOperations);
        mem.putInt(flags, mem.getInt(flags) | (1 << 2));
        return fuseOperations;
    }

    /** Where the flags word lies: jnr-fuse's member offset (not public API), else after libfuse 2.9's 38 callbacks. */
    private static long flagsOffset(FuseOperations fuseOperations) {
        try {
            Object member = FuseOperations.class.getField("flag_nullpath_ok")
                    .get(fuseOperations);
            Method offset = member.getClass().getMethod("offset");
            offset.setAccessible(true);
            return (Long) offset.invoke(member);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return 38L * jnr.ffi.Runtime.getSystemRuntime().addressSize();
        }
    }
}
