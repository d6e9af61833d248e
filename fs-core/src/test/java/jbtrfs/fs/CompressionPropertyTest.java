package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * The btrfs.compression property and the flags new inodes inherit, held to the kernel's: the kernel sets up
 * directories (a compression property, chattr +C, property "no") and creates a file in each; we create ours beside
 * them without any compress option. Ours get the same flags and property, their data is compressed as the
 * directory asks, and btrfs check and the kernel's view agree.
 */
class CompressionPropertyTest {
    @TempDir
    Path dir;

    @Test
    void newInodesInheritFlagsAndProperty_asTheKernelsDo_andThePropertyCompresses() throws Exception {
        Images.requireRootAndLoop();
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createTempDirectory(dir, "kernel");
        Shell.sh("mount -o loop " + image + " " + mnt);
        try {
            Shell.sh("""
                    set -e
                    mkdir zdir nocow nocomp
                    btrfs property set zdir compression zstd
                    chattr +C nocow
                    btrfs property set nocomp compression no
                    for d in zdir nocow nocomp; do echo kernel > $d/kfile; mkdir $d/ksub; done
                    """, mnt);
        } finally {
            Shell.sh("umount " + mnt);
        }
        Map<String, Long> ids = new HashMap<>();
        Random rnd = new Random(3);
        byte[] text = CompressedWriteTest.text(rnd, 300 * 1024);
        Map<String, String> ours = TreeListing.afterChanges(image, ops -> {
            for (String d : List.of("zdir", "nocow", "nocomp")) {
                InodeId parent = ops.resolve("/" + d);
                InodeId f = ops.mknod(parent, "ours", Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(text));
                ids.put(d + "/ours", f.objectid());
                ids.put(d + "/kfile", ops.resolve("/" + d + "/kfile").objectid());
                ids.put(d + "/osub", ops.mkdir(parent, "osub", 0755, 0, 0).objectid());
                ids.put(d + "/ksub", ops.resolve("/" + d + "/ksub").objectid());
            }
            // nested: the property went down to our subdirectory, and on from there
            InodeId deep = ops.mknod(ops.resolve("/zdir/osub"), "deep", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(deep, 0, ByteBuffer.wrap(text));
            ids.put("deep", deep.objectid());
            // set on a file through setxattr, as `btrfs property set` does
            InodeId lzo = ops.mknod(ops.root(), "lzo-file", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.setXattr(lzo, "btrfs.compression", "lzo".getBytes(StandardCharsets.US_ASCII), 0);
            ops.write(lzo, 0, ByteBuffer.wrap(text));
            ids.put("lzo-file", lzo.objectid());
            // removed again: flags cleared, writes plain
            InodeId cleared = ops.mknod(ops.resolve("/zdir"), "cleared", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.removeXattr(cleared, "btrfs.compression");
            ops.write(cleared, 0, ByteBuffer.wrap(text));
            ids.put("cleared", cleared.objectid());
            // what the kernel refuses
            assertErrno(Errno.EINVAL, () -> ops.setXattr(lzo, "btrfs.compression",
                    "gzip".getBytes(StandardCharsets.US_ASCII), 0));
            assertErrno(Errno.EINVAL, () -> ops.setXattr(lzo, "btrfs.label",
                    "x".getBytes(StandardCharsets.US_ASCII), 0));
            assertErrno(Errno.EINVAL, () -> ops.setXattr(ops.resolve("/nocow/ours"),
                    "btrfs.compression", "zlib".getBytes(StandardCharsets.US_ASCII), 0));
            assertArrayEquals("zstd".getBytes(StandardCharsets.US_ASCII),
                    ops.getXattr(ops.resolve("/zdir/osub"), "btrfs.compression"));
        });
        BtrfsCheck.assertCleanWithData(image, "btrfs check");
        String dump = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image);
        for (String d : List.of("zdir", "nocow", "nocomp")) {
            assertEquals(flags(dump, ids.get(d + "/kfile")), flags(dump, ids.get(d + "/ours")), d + " file flags");
            assertEquals(flags(dump, ids.get(d + "/ksub")), flags(dump, ids.get(d + "/osub")), d + " dir flags");
        }
        assertTrue(flags(dump, ids.get("zdir/ours")).contains("COMPRESS"), flags(dump, ids.get("zdir/ours")));
        assertTrue(flags(dump, ids.get("nocow/ours")).contains("NODATACOW"), flags(dump, ids.get("nocow/ours")));
        assertEquals("flags 0x0(none)", flags(dump, ids.get("cleared")));
        Map<Long, List<Integer>> comp = CompressedWriteTest.extentCompression(image);
        assertTrue(comp.get(ids.get("zdir/ours")).stream().allMatch(c -> c == 3), "zdir/ours " + comp);
        assertTrue(comp.get(ids.get("deep")).stream().allMatch(c -> c == 3), "deep " + comp);
        assertTrue(comp.get(ids.get("lzo-file")).stream().allMatch(c -> c == 2), "lzo-file " + comp);
        for (String plain : List.of("nocow/ours", "nocomp/ours", "cleared")) {
            assertTrue(comp.get(ids.get(plain)).stream().allMatch(c -> c == 0), plain + " " + comp);
        }
        assertTrue(Shell.sh("btrfs inspect-internal dump-super " + image).contains("COMPRESS_LZO"));
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }

    /** The flags text of inode {@code ino}'s INODE_ITEM in a dump-tree listing. */
    static String flags(String dump, long ino) {
        int at = dump.indexOf("key (" + ino + " INODE_ITEM 0) itemoff");
        int f = dump.indexOf("flags", at);
        return dump.substring(f, dump.indexOf('\n', f));
    }
}
