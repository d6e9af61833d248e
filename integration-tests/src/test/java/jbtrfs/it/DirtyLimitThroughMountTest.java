package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * The mount's dirty-page limit ({@code -o dirty_limit=}), beside the kernel's Btrfs. By default our mount's backing
 * device info has the strict_limit and max_ratio of a kernel Btrfs mount's, read back from sysfs, and a buffered
 * writer gets further ahead of the daemon than FUSE's own limit (1% of the system's dirty limit) allows; the bytes
 * reach the image whole (btrfs check clean, the kernel's mount reads the same). {@code dirty_limit=fuse} leaves
 * FUSE's values, {@code dirty_limit=N} a strict share. The daemon's threads write as I/O flushers only when the limit
 * is raised (and the daemon may: PR_SET_IO_FLUSHER needs CAP_SYS_RESOURCE).
 */
@ExtendWith(MountPrereqs.FuseAndKernelBtrfs.class)
class DirtyLimitThroughMountTest {
    private static final int MIB = 1 << 20;
    /**
     * The most WRITE bytes the kernel has sent and not had answered (max_background 64 of 1 MiB): pages it wrote
     * back that the daemon's meters do not count yet.
     */
    private static final long IN_FLIGHT = 64L * MIB;
    /** PF_LOCAL_THROTTLE in /proc/PID/task/TID/stat's flags: what PR_SET_IO_FLUSHER sets (with PF_MEMALLOC_NOIO). */
    private static final long PF_LOCAL_THROTTLE = 0x00100000;
    /** Bit 24 of a capability set. */
    private static final long CAP_SYS_RESOURCE = 1L << 24;

    @TempDir
    Path tmp;

    @Test
    void byDefault_theKernelBtrfsLimits_andMoreThanFusesHeldDirty_sameBytesOnTheKernelsMount() throws Exception {
        Jbtrfs.requireNativeTransport("writeback caching (libfuse 2 writes through)");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path kernelImage = Images.mkfs(Files.createDirectory(tmp.resolve("kernel")), null, 256);
        String fsid = Shell.sh("btrfs inspect-internal dump-super " + kernelImage + " | awk '$1 == \"fsid\" { print $2 }'")
                .trim();
        Path kernelBdi = Path.of("/sys/fs/btrfs", fsid, "bdi");
        Map<String, String> kernel = Images.withKernelMount(kernelImage, mnt, "", () -> limits(kernelBdi));
        // max_bytes is max_ratio's share of the system's dirty limit (100%: all of it); FUSE's own share is 1%
        long fuseLimit = Long.parseLong(kernel.get("max_bytes")) / Long.parseLong(kernel.get("max_ratio"));
        long size = (2 * fuseLimit + 2 * IN_FLIGHT + MIB - 1) / MIB * MIB;

        Path image = Images.mkfs(Files.createDirectory(tmp.resolve("ours")), null, (int) (size / MIB) + 256);
        int port = DaemonMetrics.freePort();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long held = 0;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, "-o", "metrics=127.0.0.1:" + port)) {
            Path bdi = ourBdi(mnt);
            Map<String, String> ours = limits(bdi);
            for (String knob : List.of("strict_limit", "max_ratio", "min_ratio")) {
                assertEquals(kernel.get(knob), ours.get(knob), knob + " of " + bdi + " beside " + kernelBdi);
            }
            assertIoFlushers(mnt, true);
            Random random = new Random(29);
            byte[] chunk = new byte[MIB];
            try (FileChannel ch = FileChannel.open(mnt.resolve("big"), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                for (long written = MIB; written <= size; written += MIB) {
                    random.nextBytes(chunk);
                    sha.update(chunk);
                    ch.write(ByteBuffer.wrap(chunk));
                    // written but not yet answered by the daemon: dirty, or in flight to it
                    if (written % (8 * MIB) == 0) held = Math.max(held, written - writeBytesAnswered(port));
                }
                assertTrue(held > fuseLimit + IN_FLIGHT, "at most " + held + " bytes of " + size + " written were"
                        + " held before the daemon had them; FUSE's limit is " + fuseLimit);
            } // the close writes the file's dirty pages (FUSE flushes at every close)
        }
        BtrfsCheck.assertCleanWithData(image, size + " bytes written through a large dirty limit");
        String kernelSha = Images.withKernelMount(image, mnt, "ro", () -> Shell.sh("sha256sum big", mnt));
        assertEquals(HexFormat.of().formatHex(sha.digest()), kernelSha.split(" ")[0]);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"dirty_limit=fuse, 1, 1, false", "dirty_limit=25, 1, 25, true", "dirty_limit=kernel, 0, 100, true"})
    void option_setsTheBdi_saysSoInOneLine(String option, String strictLimit, String maxRatio, boolean flushers)
            throws Exception {
        Jbtrfs.requireNativeTransport("writeback caching (libfuse 2 writes through)");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path image = Images.mkfs(tmp, null, 256);
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, "-o", option)) {
            Map<String, String> ours = limits(ourBdi(mnt));
            assertEquals(strictLimit, ours.get("strict_limit"), option);
            assertEquals(maxRatio, ours.get("max_ratio"), option);
            assertIoFlushers(mnt, flushers);
            List<String> said = Files.readAllLines(Jbtrfs.log(mnt)).stream()
                    .filter(l -> l.contains("dirty pages: ")).toList();
            assertEquals(1, said.size(), said::toString);
            assertTrue(said.get(0).contains(option.equals("dirty_limit=fuse") ? "FUSE's limit kept"
                    : "max_ratio " + maxRatio), said.get(0));
            Shell.sh("head -c 3000000 /dev/urandom > f", mnt);
        }
        BtrfsCheck.assertCleanWithData(image, option);
    }

    /** The readable limits of a bdi's sysfs directory, by knob. */
    private static Map<String, String> limits(Path bdi) throws Exception {
        return Map.of("strict_limit", read(bdi, "strict_limit"), "max_ratio", read(bdi, "max_ratio"),
                "min_ratio", read(bdi, "min_ratio"), "max_bytes", read(bdi, "max_bytes"));
    }

    private static String read(Path bdi, String knob) throws Exception {
        return Files.readString(bdi.resolve(knob)).trim();
    }

    /** The bdi of the FUSE mount at {@code mnt}: /sys/class/bdi/ and its major:minor from /proc/self/mountinfo. */
    private static Path ourBdi(Path mnt) throws Exception {
        String device = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().map(l -> l.split(" "))
                .filter(f -> f[4].equals(mnt.toString())).reduce((a, b) -> b).orElseThrow()[2];
        return Path.of("/sys/class/bdi", device);
    }

    /** Bytes of WRITE requests the daemon has answered: at most 1 MiB each (max_write). */
    private static long writeBytesAnswered(int port) throws Exception {
        return DaemonMetrics.requestCounts(port).getOrDefault("write", 0.0).longValue() * MIB;
    }

    /**
     * Whether the daemon's FUSE workers and its commit thread write as I/O flushers, by the task flags in
     * /proc/PID/task/TID/stat (the ninth field): as {@code asked}, where the daemon has CAP_SYS_RESOURCE, which
     * PR_SET_IO_FLUSHER needs (a container may lack it; then none is).
     */
    private static void assertIoFlushers(Path mnt, boolean asked) throws Exception {
        String pid = Jbtrfs.daemonPid(mnt);
        String capEff = Files.readAllLines(Path.of("/proc", pid, "status")).stream()
                .filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow().substring(7).trim();
        boolean expected = asked && (Long.parseUnsignedLong(capEff, 16) & CAP_SYS_RESOURCE) != 0;
        if (asked && !expected) System.out.println("the daemon lacks CAP_SYS_RESOURCE: no thread is an I/O flusher");
        Path tasks = Path.of("/proc", pid, "task");
        int seen = 0;
        try (Stream<Path> s = Files.list(tasks)) {
            for (Path task : s.toList()) {
                String comm;
                String stat;
                try {
                    comm = Files.readString(task.resolve("comm")).trim();
                    stat = Files.readString(task.resolve("stat"));
                } catch (NoSuchFileException e) {
                    continue; // a pool thread that ended meanwhile
                }
                if (!comm.startsWith("fuse-") && !comm.equals("jbtrfs-commit")) continue;
                long flags = Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[6]);
                assertEquals(expected, (flags & PF_LOCAL_THROTTLE) != 0, comm + " flags " + Long.toHexString(flags));
                seen++;
            }
        }
        assertFalse(seen == 0, "no fuse-N or jbtrfs-commit thread in " + tasks);
    }
}
