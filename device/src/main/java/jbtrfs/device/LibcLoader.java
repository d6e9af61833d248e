package jbtrfs.device;

import jnr.ffi.LibraryLoader;

/**
 * Binds a jnr-ffi interface to libc by glibc's soname, one dlopen: jnr-ffi's own search for "c" lists every library
 * directory (ld.so.conf's too) and cost each binding ~2.5 ms of a mount's CPU. Another libc (musl) is found by that
 * search still.
 */
public final class LibcLoader {
    private LibcLoader() {
    }

    /** {@code iface} bound to libc; throws UnsatisfiedLinkError when no libc has its functions. */
    public static <T> T load(Class<T> iface) {
        try {
            return LibraryLoader.create(iface).failImmediately().load("libc.so.6");
        } catch (UnsatisfiedLinkError e) {
            return LibraryLoader.create(iface).failImmediately().load("c");
        }
    }
}
