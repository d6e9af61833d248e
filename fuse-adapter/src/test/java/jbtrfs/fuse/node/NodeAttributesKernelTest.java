package jbtrfs.fuse.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.MountOptions;
import jbtrfs.fuse.kernel.FuseAbi;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * What the node layer answers against what the kernel's Btrfs shows for the same image, loop-mounted read-only:
 * LOOKUP and STATX attributes field by field, and inode numbers over subvolumes and snapshots. Needs root, loop
 * devices and btrfs in the kernel (skips saying why otherwise).
 */
class NodeAttributesKernelTest {
    @TempDir
    Path tmp;

    /** One path as the kernel shows it (GNU find's -printf), times in ns. */
    record KernelStat(long ino, long dev, char type, int perm, int nlink, int uid, int gid, long size, long blocks,
                      long mtime, long ctime, long atime, long btime) {
    }

    private Map<String, KernelStat> kernelStats(Path image) throws Exception {
        Path mnt = Files.createTempDirectory(tmp, "kernel");
        Shell.sh("mount -o loop,ro " + image + " " + mnt);
        try {
            String out = Shell.stdout(List.of("find", mnt.toString(), "-mindepth", "1", "-printf",
                    "%P|%i|%D|%y|%m|%n|%U|%G|%s|%b|%T@|%C@|%A@\\n"));
            // btime through statx(2), which find's %B does not use
            Map<String, Long> btimes = new HashMap<>();
            String births = Shell.stdout(List.of("find", mnt.toString(), "-mindepth", "1", "-exec", "stat", "-c",
                    "%n|%.9W", "{}", "+"));
            for (String line : births.split("\n")) {
                String[] f = line.split("\\|");
                btimes.put(mnt.relativize(Path.of(f[0])).toString(), ns(f[1]));
            }
            Map<String, KernelStat> m = new TreeMap<>();
            for (String line : out.split("\n")) {
                String[] f = line.split("\\|");
                m.put(f[0], new KernelStat(Long.parseLong(f[1]), Long.parseLong(f[2]), f[3].charAt(0),
                        Integer.parseInt(f[4], 8), Integer.parseInt(f[5]), Integer.parseInt(f[6]),
                        Integer.parseInt(f[7]), Long.parseLong(f[8]), Long.parseLong(f[9]), ns(f[10]), ns(f[11]),
                        ns(f[12]), btimes.get(f[0])));
            }
            return m;
        } finally {
            Shell.sh("umount " + mnt);
        }
    }

    /** "1733572345.1234567890" as ns. */
    private static long ns(String t) {
        int dot = t.indexOf('.');
        if (dot < 0) return Long.parseLong(t) * 1_000_000_000L;
        String frac = (t.substring(dot + 1) + "000000000").substring(0, 9);
        return Long.parseLong(t.substring(0, dot)) * 1_000_000_000L + Long.parseLong(frac);
    }

    private static char type(int mode) {
        return switch (mode & 0170000) {
            case 0040000 -> 'd';
            case 0120000 -> 'l';
            case 0010000 -> 'p';
            default -> 'f';
        };
    }

    /** STATX's btime, in ns. */
    private static long btime(KernelSide k, long node) throws Exception {
        ByteBuffer b = k.send(FuseAbi.STATX, node, FakeRequest.body().u32(0).u32(0).u64(0).u32(0).u32(0x800))
                .payload();
        assertTrue((b.getInt(32) & 0x800) != 0, "STATX_BTIME in the mask");
        int at = 32 + 64 + 16;
        return b.getLong(at) * 1_000_000_000L + b.getInt(at + 8);
    }

    @Test
    void lookupAndStatx_equalTheKernelsStat() throws Exception {
        Images.requireKernelBtrfs();
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.createDirectories(src.resolve("dir/sub"));
        Files.writeString(src.resolve("dir/small"), "inline data");
        Files.write(src.resolve("dir/sub/big"), new byte[300_000]);
        Files.createFile(src.resolve("empty"));
        Files.createSymbolicLink(src.resolve("link"), Path.of("dir/small"));
        Files.createLink(src.resolve("hard"), src.resolve("dir/small"));
        Shell.sh("mkfifo " + src.resolve("fifo") + " && chmod 4755 " + src.resolve("empty"));
        Path image = Images.mkfs(tmp, src, 256);
        Map<String, KernelStat> kernel = kernelStats(image);
        assertEquals(8, kernel.size());
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            KernelSide k = new KernelSide(new NodeHandler(fs.operations(), 4096, NodeOptions.defaults(),
                    new SimpleMeterRegistry()));
            for (Map.Entry<String, KernelStat> e : kernel.entrySet()) {
                KernelSide.Entry ours = k.walk(e.getKey());
                KernelSide.Attr a = ours.attr();
                KernelStat want = e.getValue();
                KernelStat got = new KernelStat(a.ino(), want.dev(), type(a.mode()), a.mode() & 07777, a.nlink(),
                        a.uid(), a.gid(), a.size(), a.blocks(), a.mtime() * 1_000_000_000L + a.mtimensec(),
                        a.ctime() * 1_000_000_000L + a.ctimensec(), a.atime() * 1_000_000_000L + a.atimensec(),
                        btime(k, ours.nodeId()));
                assertEquals(want, got, e.getKey());
                assertEquals(a, k.getattr(ours.nodeId()), "GETATTR as LOOKUP gave, " + e.getKey());
            }
        }
    }

    /** Every path's st_ino, listed READDIRPLUS by READDIRPLUS from the root. */
    private static Map<String, Long> inodes(KernelSide k, long dir, String prefix, Map<String, Long> out)
            throws Exception {
        for (KernelSide.Dirent d : k.list(dir, 8192, true)) {
            if (d.name().equals(".") || d.name().equals("..")) continue;
            String path = prefix + d.name();
            out.put(path, d.ino());
            if (d.type() == 4) inodes(k, d.entry().nodeId(), path + "/", out);
        }
        return out;
    }

    @Test
    void inodeNumbers_areUniqueOverSnapshots_andRawOnesAreTheKernels() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.kernelWritten(tmp, "subvolumes-snapshots", 256);
        Map<String, KernelStat> kernel = kernelStats(image);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            Map<String, Long> unique = inodes(new KernelSide(new NodeHandler(fs.operations(), 4096,
                    NodeOptions.defaults(), new SimpleMeterRegistry())), NodeIds.ROOT_ID, "", new TreeMap<>());
            Map<String, Long> raw = inodes(new KernelSide(new NodeHandler(fs.operations(), 4096,
                    NodeOptions.defaults().withRawInodes(true), new SimpleMeterRegistry())), NodeIds.ROOT_ID, "",
                    new TreeMap<>());
            assertEquals(kernel.keySet(), unique.keySet());
            Map<String, Long> kernelIno = new TreeMap<>();
            kernel.forEach((p, s) -> kernelIno.put(p, s.ino()));
            assertEquals(kernelIno, raw, "raw numbers are the kernel's");

            // the kernel tells inodes apart by (st_dev, st_ino); on the one FUSE device st_ino alone must do it
            Map<String, String> kernelIdentity = new HashMap<>();
            Map<Long, String> ourIdentity = new HashMap<>();
            List<String> clashes = new ArrayList<>();
            for (String p : kernel.keySet()) {
                KernelStat s = kernel.get(p);
                // a snapshot's stand-in for a nested subvolume (ino 2) is an inode of its own per lookup there
                if (s.ino() == 2) continue;
                String kid = s.dev() + ":" + s.ino();
                String first = kernelIdentity.putIfAbsent(kid, p);
                String ours = ourIdentity.putIfAbsent(unique.get(p), p);
                boolean sameForKernel = first != null;
                boolean sameForUs = ours != null;
                if (sameForKernel != sameForUs) clashes.add(p + " (kernel " + kid + ", ours " + unique.get(p) + ")");
            }
            assertEquals(List.of(), clashes);
            assertNotEquals(unique.get("sub/dir/file"), unique.get("snap/dir/file"));
            assertEquals(raw.get("sub/dir/file"), raw.get("snap/dir/file"));
            assertEquals(kernelIno.get("deep"), unique.get("deep"),
                    "the top-level subvolume keeps the kernel's numbers");
        }
    }
}
