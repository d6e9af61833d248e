package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import jbtrfs.fuse.kernel.MountSpec;

/** {@code -o transport=} and how the native transport turns the other options into its kernel mount. */
class NativeTransportTest {
    private static MountSpec spec(boolean readOnly, boolean root, String... groups) throws CliException {
        return NativeTransport.spec(MountOptionParser.parse(List.of(groups)), "/images/a.img", Path.of("/mnt"),
                readOnly, root);
    }

    @Test
    void transportOption_defaultsToNativeOnLinux_andTakesLibfuse() throws CliException {
        assertEquals(MountOptionParser.Transport.NATIVE, MountOptionParser.parse(List.of()).transport());
        assertEquals(MountOptionParser.Transport.LIBFUSE,
                MountOptionParser.parse(List.of("transport=libfuse")).transport());
        MountOptionParser p = MountOptionParser.parse(List.of("ro,transport=native", "no_writeback_cache"));
        assertEquals(MountOptionParser.Transport.NATIVE, p.transport());
        assertFalse(p.writebackCache());
        assertTrue(MountOptionParser.parse(List.of("transport=native")).writebackCache());
        assertFalse(p.rawInodes());
        assertTrue(MountOptionParser.parse(List.of("raw_inodes")).rawInodes());
        assertFalse(p.ioUring());
        assertTrue(MountOptionParser.parse(List.of("rw,io_uring")).ioUring());
        assertTrue(MountOptionParser.parse(List.of("io_uring")).passThrough().isEmpty(), "io_uring is ours");
        assertTrue(p.passThrough().isEmpty(), "transport and writeback_cache are ours: " + p.passThrough());
        CliException e = assertThrows(CliException.class,
                () -> MountOptionParser.parse(List.of("transport=uring")));
        assertEquals(2, e.exitCode());
        assertEquals("bad option transport=uring: transport takes native or libfuse", e.getMessage());
    }

    @Test
    void rootMount_keepsDevAndSuid_likeAKernelMount() throws CliException {
        MountSpec s = spec(false, true);
        assertEquals(0, s.msFlags());
        assertTrue(s.allowOther(), "root's mount serves every user, as today");
        assertTrue(s.defaultPermissions());
        assertEquals("/images/a.img", s.source());
        assertEquals("jbtrfs", s.subtype());
        assertEquals(1 << 20, s.maxRead());
    }

    @Test
    void nodevNosuidNoexecReadOnly_becomeMountFlags() throws CliException {
        MountSpec s = spec(true, true, "nodev,nosuid", "noexec,noatime");
        assertEquals(MountSpec.MS_RDONLY | MountSpec.MS_NODEV | MountSpec.MS_NOSUID | MountSpec.MS_NOEXEC
                | MountSpec.MS_NOATIME, s.msFlags());
        assertEquals(MountSpec.MS_NODEV, spec(false, true, "nodev,nosuid,suid").msFlags(), "the last word wins");
    }

    @Test
    void userMount_allowsOthersOnlyWhenAsked() throws CliException {
        assertFalse(spec(false, false).allowOther());
        assertTrue(spec(false, false, "allow_other").allowOther());
    }
}
