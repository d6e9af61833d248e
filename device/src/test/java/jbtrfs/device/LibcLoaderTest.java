package jbtrfs.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Interfaces bound to libc by its soname answer as libc does. */
class LibcLoaderTest {
    /** Public: jnr-ffi implements it from another class loader. */
    public interface Pids {
        int getpid();
    }

    @Test
    void load_bindsLibcsFunctions() {
        assertEquals((int) ProcessHandle.current().pid(), LibcLoader.load(Pids.class).getpid());
    }
}
