package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;

/**
 * `jbtrfs scrub` on a live mount through the native transport's ioctls: a flipped byte in one DUP copy of a tree
 * block is repaired (both copies identical after, and the kernel's own scrub then finds no metadata error), a
 * flipped byte in single-profile file data is uncorrectable, named by the file's path, its reads EIO, and the
 * command exits 3 as btrfs scrub does. On a read-only RAID1 set with one member zeroed, the scrub of every member
 * totals the kernel's errors.
 */
@ExtendWith(MountPrereqs.FuseAndKernelBtrfs.class)
class ScrubThroughMountTest {
    private static final int NODESIZE = 16384;

    @TempDir
    Path tmp;

    @Test
    void scrubOfALiveMount_repairsTheDupCopyAndNamesTheFileWithBadData() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/dir"));
        Random r = new Random(5);
        byte[] data = new byte[300_000];
        r.nextBytes(data);
        Files.write(tmp.resolve("src/victim"), data);
        for (int i = 0; i < 300; i++) Files.writeString(src.resolve("entry-" + i + "-" + "y".repeat(50)), "e" + i);
        Path image = Images.mkfs(tmp, tmp.resolve("src"), 256);
        List<Long> leaves = ImageDamage.leaves(image, "5");
        List<Long> leafCopies = ImageDamage.physicalCopies(image, leaves.get(leaves.size() / 2));
        ImageDamage.flipByte(image, leafCopies.get(1) + 2000);
        long extent = ImageDamage.firstExtentOf(image, "victim");
        ImageDamage.flipByte(image, ImageDamage.physical(image, extent) + 4096 + 9);

        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (Jbtrfs mount = Jbtrfs.mountReadWrite(image, mnt, "-o", "transport=native")) {
            Shell.Result none = Jbtrfs.run("scrub", "status", mnt.toString());
            assertEquals(2, none.exitCode(), none.output());
            assertTrue(none.output().contains("no scrub has run"), none.output());

            Shell.Result start = Jbtrfs.run("scrub", "start", "-B", mnt.toString());
            assertEquals(3, start.exitCode(), start.output());
            String summary = "Error summary:    verify=" + NODESIZE / 4096 + " csum=1\n  Corrected:      "
                    + NODESIZE / 4096 + "\n  Uncorrectable:  1\n";
            assertTrue(start.output().contains(summary), start.output());
            assertTrue(start.output().contains("Status:           finished"), start.output());
            assertTrue(start.output().contains(": victim (subvolume 5, inode "), start.output());

            Shell.Result status = Jbtrfs.run("scrub", "status", mnt.toString());
            assertEquals(3, status.exitCode(), status.output());
            assertTrue(status.output().contains(summary), status.output());

            Shell.Result cat = Shell.attempt(List.of("dd", "if=" + mnt.resolve("victim"), "of=/dev/null", "bs=4096",
                    "skip=1", "count=1"));
            assertTrue(cat.exitCode() != 0 && cat.output().contains("Input/output error"), cat.output());
            Shell.Result head = Shell.attempt(List.of("dd", "if=" + mnt.resolve("victim"), "of=/dev/null",
                    "bs=4096", "count=1"));
            assertEquals(0, head.exitCode(), "the sector before reads: " + head.output());
        }
        assertArrayEquals(bytes(image, leafCopies.get(0)), bytes(image, leafCopies.get(1)),
                "both copies of the tree block identical after the scrub");
        Path kmnt = Files.createDirectory(tmp.resolve("kernel"));
        String kernel = Images.withKernelMount(image, kmnt, "ro", () -> Shell.sh("btrfs scrub start -B -R -r "
                + kmnt + " || true"));
        assertTrue(kernel.contains("verify_errors: 0") && kernel.contains("csum_errors: 1"),
                "the kernel's scrub: no metadata error left, the data sector still bad: " + kernel);
    }

    @Test
    void scrubOfARaid1SetMount_totalsEveryMembersErrorsAsTheKernelsScrub() throws Exception {
        Jbtrfs.requireNativeTransport("scrub answers through the native transport's ioctls");
        List<Path> set = MemberSets.mkfs(tmp, 2, 128, "-d", "raid1", "-m", "raid1");
        MemberSets.kernelWritten(set, tmp);
        MemberSets.zeroContents(set.get(1));
        List<Path> copy = MemberSets.copy(set, Files.createDirectory(tmp.resolve("copy")));
        String kernel = MemberSets.withKernelMount(copy, tmp, "ro", kmnt -> Shell.sh("btrfs scrub start -B -R -r "
                + kmnt + " || true"));
        Matcher verify = Pattern.compile("verify_errors: (\\d+)").matcher(kernel);
        Matcher csum = Pattern.compile("csum_errors: (\\d+)").matcher(kernel);
        Matcher corrected = Pattern.compile("corrected_errors: (\\d+)").matcher(kernel);
        assertTrue(verify.find() && csum.find() && corrected.find(), kernel);
        assertTrue(Long.parseLong(verify.group(1)) > 0 && Long.parseLong(csum.group(1)) > 0, kernel);

        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Jbtrfs.mount(set.get(0), mnt, "-o", "ro,device=" + set.get(1));
        try {
            Shell.Result start = Jbtrfs.run("scrub", "start", "-B", mnt.toString());
            assertEquals(0, start.exitCode(), start.output());
            assertTrue(start.output().contains("(2 devices)"), start.output());
            String summary = "Error summary:    verify=" + verify.group(1) + " csum=" + csum.group(1)
                    + "\n  Corrected:      " + corrected.group(1) + "\n  Uncorrectable:  0\n";
            assertTrue(start.output().contains(summary), "the kernel's totals " + kernel + ", ours " + start.output());
        } finally {
            Jbtrfs.unmount(mnt);
        }
    }

    private static byte[] bytes(Path image, long offset) throws Exception {
        byte[] b = new byte[NODESIZE];
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "r")) {
            raf.seek(offset);
            raf.readFully(b);
        }
        return b;
    }
}
