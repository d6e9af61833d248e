package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import jbtrfs.compress.CompressionType;
import jbtrfs.fs.MountOptions.Compression;

class MountOptionParserTest {

    private static List<String> fuseOptions(String image, String... groups) throws CliException {
        return Arrays.asList(MountOptionParser.parse(List.of(groups)).fuseOptions(image).split("(?<!\\\\),"));
    }

    @Test
    void defaults_areReadOnlyWithInodeNumbersAndCaching() throws CliException {
        List<String> o = fuseOptions("/images/a.img");
        for (String must : List.of("ro", "use_ino", "kernel_cache", "subtype=jbtrfs", "fsname=/images/a.img",
                "default_permissions", "nonempty")) {
            assertTrue(o.contains(must), must + " missing from " + o);
        }
        assertTrue(o.stream().anyMatch(x -> x.matches("max_read=\\d+") && Integer.parseInt(x.substring(9)) >= 131072), o::toString);
        assertTrue(o.stream().anyMatch(x -> x.startsWith("attr_timeout=")), o::toString);
        assertTrue(o.stream().anyMatch(x -> x.startsWith("entry_timeout=")), o::toString);
        assertFalse(o.contains("rw"));
    }

    @Test
    void userFuseOptions_arePassedOnAfterOurs() throws CliException {
        List<String> o = fuseOptions("/a.img", "allow_other,uid=1000", "gid=100");
        int uid = o.indexOf("uid=1000");
        assertTrue(o.contains("allow_other") && uid >= 0 && o.contains("gid=100"), o::toString);
        assertTrue(uid > o.indexOf("use_ino"), "user options come last, so they win: " + o);
    }

    @Test
    void asRoot_devAndSuid_likeAKernelMount_unlessNodevOrNosuid() throws CliException {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "dev and suid are root's defaults only");
        List<String> o = fuseOptions("/a.img", "rw");
        assertTrue(o.contains("dev") && o.contains("suid"), o::toString);
        List<String> n = fuseOptions("/a.img", "nodev,nosuid");
        assertFalse(n.contains("dev") || n.contains("suid"), n::toString);
        assertTrue(n.contains("nodev") && n.contains("nosuid"), n::toString);
    }

    @Test
    void ourOwnOptions_doNotReachFuse() throws CliException {
        MountOptionParser p = MountOptionParser.parse(List.of("subvol=/snap/a,read_ahead_kb=4096", "threads=3,rw",
                "metrics=9464,nologreplay,notreelog"));
        assertEquals("/snap/a", p.subvol());
        assertEquals(4096, p.readAheadKib());
        assertEquals(3, p.threads());
        assertEquals(9464, p.metrics().getPort());
        assertEquals("127.0.0.1", p.metrics().getHostString());
        assertTrue(p.noLogReplay());
        assertTrue(p.noTreeLog());
        assertFalse(MountOptionParser.parse(List.of("notreelog,treelog")).noTreeLog(), "the last one given wins");
        assertTrue(p.passThrough().isEmpty(), p.passThrough()::toString);
        String fuse = p.fuseOptions("/a.img");
        for (String ours : List.of("subvol", "read_ahead_kb", "threads", "metrics", ",rw", "nologreplay", "treelog")) {
            assertFalse(fuse.contains(ours), ours + " leaked into " + fuse);
        }
    }

    @Test
    void defaults_whenNothingIsGiven() throws CliException {
        MountOptionParser p = MountOptionParser.parse(List.of());
        assertNull(p.subvol());
        assertEquals(0, p.subvolid());
        assertFalse(p.readOnlyRequested());
        assertEquals(MountOptionParser.DEFAULT_READ_AHEAD_KIB, p.readAheadKib());
        assertEquals(MountOptionParser.DEFAULT_THREADS, p.threads());
        assertNull(p.metrics());
        assertFalse(p.noLogReplay());
        assertFalse(p.noTreeLog());
        assertTrue(MountOptionParser.parse(List.of("ro")).readOnlyRequested());
        assertTrue(MountOptionParser.parse(List.of("ro,rescue=nologreplay")).noLogReplay());
        assertEquals(257, MountOptionParser.parse(List.of("subvolid=257")).subvolid());
    }

    @Test
    void deviceAndDegraded_areOurs_inTheOrderGiven() throws CliException {
        MountOptionParser p = MountOptionParser.parse(List.of("ro,device=/dev/loop3", "device=/b.img,degraded"));
        assertEquals(List.of("/dev/loop3", "/b.img"), p.devices());
        assertTrue(p.degraded());
        String fuse = p.fuseOptions("/a.img");
        assertFalse(fuse.contains("device=") || fuse.contains("degraded"), fuse);
        assertEquals(List.of(), MountOptionParser.parse(List.of()).devices());
        assertFalse(MountOptionParser.parse(List.of()).degraded());
        CliException e = assertThrows(CliException.class, () -> MountOptionParser.parse(List.of("device=")));
        assertEquals(2, e.exitCode());
    }

    @Test
    void dirtyLimit_isAKernelFilesystemsByDefault_fusesOrAShareWhenAsked() throws CliException {
        assertEquals(new DirtyLimit(100, false), MountOptionParser.parse(List.of()).dirtyLimit());
        assertEquals(DirtyLimit.KERNEL, MountOptionParser.parse(List.of("dirty_limit=fuse,dirty_limit=kernel"))
                .dirtyLimit(), "the last one given wins");
        DirtyLimit fuse = MountOptionParser.parse(List.of("dirty_limit=fuse")).dirtyLimit();
        assertEquals(new DirtyLimit(1, true), fuse);
        assertFalse(fuse.raises(), "fuse leaves the bdi as FUSE set it");
        assertEquals(new DirtyLimit(20, true), MountOptionParser.parse(List.of("dirty_limit=20")).dirtyLimit());
        assertFalse(MountOptionParser.parse(List.of("dirty_limit=1")).dirtyLimit().raises(), "1% is FUSE's own");
        assertFalse(MountOptionParser.parse(List.of("dirty_limit=20")).fuseOptions("/a.img").contains("dirty"));
        for (String bad : List.of("dirty_limit=0", "dirty_limit=101", "dirty_limit=", "dirty_limit=all")) {
            CliException e = assertThrows(CliException.class, () -> MountOptionParser.parse(List.of(bad)), bad);
            assertEquals(2, e.exitCode(), bad);
            assertTrue(e.getMessage().startsWith("bad option " + bad + ": dirty_limit takes"), e.getMessage());
        }
    }

    @Test
    void aCommaInTheImagePath_isEscapedForFuse() throws CliException {
        String fuse = MountOptionParser.parse(List.of()).fuseOptions("/tmp/a,b.img");
        assertTrue(fuse.contains("fsname=/tmp/a\\,b.img"), fuse);
    }

    @Test
    void badValues_areUsageErrors() {
        for (String bad : List.of("subvolid=x", "read_ahead_kb=lots", "threads=0", "threads=many", "metrics=a:b")) {
            CliException e = assertThrows(CliException.class, () -> MountOptionParser.parse(List.of(bad)), bad);
            assertEquals(2, e.exitCode(), bad);
            assertTrue(e.getMessage().contains(bad.substring(0, bad.indexOf('='))), e.getMessage());
        }
    }

    @Test
    void compressOptions_areTheKernels() throws CliException {
        Compression c = MountOptionParser.parse(List.of("compress")).compression();
        assertEquals(new Compression(CompressionType.ZLIB, 3, false), c);
        c = MountOptionParser.parse(List.of("noatime,compress=zstd:7")).compression();
        assertEquals(new Compression(CompressionType.ZSTD, 7, false), c);
        c = MountOptionParser.parse(List.of("compress-force=lzo")).compression();
        assertEquals(new Compression(CompressionType.LZO, 3, true), c);
        c = MountOptionParser.parse(List.of("compress-force")).compression();
        assertEquals(new Compression(CompressionType.ZLIB, 3, true), c);
        // the last one wins, as on the kernel; no turns it off
        assertNull(MountOptionParser.parse(List.of("compress=zstd", "compress=no")).compression());
        assertNull(MountOptionParser.parse(List.of("rw")).compression());
        assertFalse(fuseOptions("/a.img", "compress=zstd").stream().anyMatch(x -> x.startsWith("compress")),
                "compress is ours, not FUSE's");
        for (String bad : List.of("compress=gzip", "compress=zlib:10", "compress=zlib:0", "compress=lzo:2",
                "compress=zstd:16", "compress-force=zstd:x")) {
            CliException e = assertThrows(CliException.class, () -> MountOptionParser.parse(List.of(bad)), bad);
            assertTrue(e.getMessage().startsWith("bad option " + bad), e.getMessage());
        }
    }
}
