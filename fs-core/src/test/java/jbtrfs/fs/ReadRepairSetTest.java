package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;

/**
 * Read-repair through a read-write mount of a RAID1 set: the first copy of a file's first 64 KiB is damaged on its
 * member; reading the file returns the good bytes (from the other copy) and writes them over the damaged copy, so
 * that the kernel's scrub of the set afterwards finds no error.
 */
class ReadRepairSetTest {
    private static final int DAMAGE = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    void damagedFirstCopy_readThroughReadWriteMount_servesGoodDataAndRewritesIt_kernelScrubClean() throws Exception {
        List<Path> set = MemberSets.mkfs(dir, 2, 128, "-d", "raid1", "-m", "raid1");
        String frag = MemberSets.withKernelMount(set, dir, "", mnt -> Shell.sh(
                "head -c 3000000 /dev/urandom > random.bin && sync && filefrag -v random.bin", mnt));
        Matcher extent = Pattern.compile("(?m)^\\s+0:\\s+0\\.\\.\\s*\\d+:\\s+(\\d+)\\.\\.").matcher(frag);
        assertTrue(extent.find(), "filefrag: " + frag);
        long logical = Long.parseLong(extent.group(1)) * 4096; // btrfs's FIEMAP physical is the logical address
        List<MemberSets.Copy> copies = MemberSets.copiesOf(set, logical);
        assertEquals(2, copies.size(), "RAID1 copies: " + copies);
        MemberSets.Copy first = copies.get(0);
        MemberSets.Copy second = copies.get(1);
        byte[] good = readAt(set.get(second.member()), second.physical());
        byte[] junk = new byte[DAMAGE];
        new Random(3).nextBytes(junk);
        writeAt(set.get(first.member()), first.physical(), junk);

        String want;
        try (Filesystem fs = Filesystem.open(set.get(0), MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withDevices(set.subList(1, 2), false))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.resolve("/random.bin");
            ByteBuffer all = ByteBuffer.allocate(3_000_000);
            while (all.hasRemaining()) {
                int n = ops.read(f, all.position(), all.slice());
                assertTrue(n > 0, "short read at " + all.position());
                all.position(all.position() + n);
            }
            assertArrayEquals(good, Arrays.copyOf(all.array(), DAMAGE), "the first 64 KiB as read");
            assertTrue(fs.counters().mirrorRetries() > 0, "the read met the damaged copy and took the other");
            want = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(all.array()));
        }
        assertArrayEquals(good, readAt(set.get(first.member()), first.physical()), "the damaged copy, rewritten");

        String scrub = MemberSets.withKernelMount(set, dir, "ro", mnt -> Shell.sh("btrfs scrub start -B -R -r "
                + mnt + " || true; sha256sum random.bin", mnt));
        for (String counter : List.of("read_errors", "csum_errors", "verify_errors", "uncorrectable_errors")) {
            Matcher m = Pattern.compile("(?m)^\\s+" + counter + ": (\\d+)$").matcher(scrub);
            assertTrue(m.find(), counter + " in " + scrub);
            assertEquals("0", m.group(1), counter + " of the kernel's scrub: " + scrub);
        }
        assertFalse(scrub.contains("ERROR"), scrub);
        assertTrue(scrub.contains(want + "  random.bin"), "the kernel reads the bytes we read (" + want + "): " + scrub);
    }

    private static byte[] readAt(Path member, long physical) throws Exception {
        try (FileChannel ch = FileChannel.open(member)) {
            ByteBuffer b = ByteBuffer.allocate(DAMAGE);
            while (b.hasRemaining() && ch.read(b, physical + b.position()) > 0) {
                // until full
            }
            return b.array();
        }
    }

    private static void writeAt(Path member, long physical, byte[] bytes) throws Exception {
        try (FileChannel ch = FileChannel.open(member, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b, physical + b.position());
        }
    }
}
