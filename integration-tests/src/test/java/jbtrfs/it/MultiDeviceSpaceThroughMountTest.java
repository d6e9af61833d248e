package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The space of every member of a RAID1 set of three through our read-write mount, against the kernel's mount of a
 * copy of the set: statfs ({@code df}, {@code stat -f}) counts the unallocated space of all members, DEV_INFO answers
 * each member ({@code filesystem usage}), and fstrim gives back the free space of
 * every member's image.
 */
@ExtendWith(MountPrereqs.FuseAndKernelBtrfs.class)
class MultiDeviceSpaceThroughMountTest {
    private static final String STATFS = "stat -f -c '%S %b %f %a' . && df -B1 --output=size,used,avail . | tail -1";

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid1", "raid5", "raid6"})
    void statfsOfASet_countsEveryMember_asTheKernel(String profile) throws Exception {
        List<Path> set = MemberSets.mkfs(tmp, 3, 128, "-d", profile, "-m", profile);
        String kernel = MemberSets.withKernelMount(MemberSets.copy(set, tmp), tmp, "ro", k -> Shell.sh(STATFS, k));
        Path mnt = Files.createTempDirectory(tmp, "ours");
        try (Jbtrfs m = Jbtrfs.mountReadWrite(set.get(0), mnt, "-o", others(set))) {
            assertEquals(kernel, Shell.sh(STATFS, mnt));
        }
    }

    @Test
    void devInfo_answersEveryMember_filesystemUsageAsTheKernel() throws Exception {
        Jbtrfs.requireNativeTransport("the btrfs ioctls (FS_INFO, DEV_INFO)");
        Prereq.requireBinary("btrfs", "btrfs-progs");
        List<Path> set = MemberSets.mkfs(tmp, 3, 128, "-d", "raid1", "-m", "raid1");
        String kernel = MemberSets.withKernelMount(MemberSets.copy(set, tmp), tmp, "ro",
                k -> Shell.sh("btrfs filesystem usage -b .", k));
        Path mnt = Files.createTempDirectory(tmp, "ours");
        String ours;
        // btrfs-progs takes only a mount of type btrfs; our usage command asks DEV_INFO for each devid as it does
        try (Jbtrfs m = Jbtrfs.mountReadWrite(set.get(0), mnt, "-o", others(set))) {
            ours = Shell.sh(Jbtrfs.launcher() + " filesystem usage -b .", mnt);
        }
        assertEquals(paths(kernel), paths(ours));
        for (Path p : set) assertTrue(ours.contains(p.toAbsolutePath().toString()), p + " not in " + ours);
    }

    @Test
    void fstrimOfARaid1Set_shrinksEveryMember_asManyBytesAsTheKernelWithinABlock() throws Exception {
        Jbtrfs.requireNativeTransport("FITRIM");
        Prereq.requireBinary("fstrim", "apt-get install util-linux");
        List<Path> set = MemberSets.mkfs(tmp, 3, 128, "-d", "raid1", "-m", "raid1");
        Path mnt = Files.createTempDirectory(tmp, "ours");
        List<Path> before;
        List<Long> blocksBefore = new ArrayList<>();
        String ours;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(set.get(0), mnt, "-o", others(set))) {
            String sync = Jbtrfs.launcher() + " filesystem sync .";
            // enough for data chunks on every member (RAID1 puts each on the two with most space), then freed
            Shell.sh("for i in 1 2 3 4 5; do head -c 12M /dev/urandom > big$i; done && head -c 1M /dev/urandom > f1"
                    + " && " + sync + " && rm big* && " + sync, mnt);
            before = MemberSets.copy(set, Files.createTempDirectory(tmp, "before"));
            for (Path p : set) blocksBefore.add(SpaceCommandsThroughMountTest.blocks(p));
            ours = Shell.sh("fstrim -v .", mnt);
        }
        // RAID1: the freed 60 MB were on two members; every member gives back its free space, none only the first
        long given = 0;
        for (int i = 0; i < set.size(); i++) {
            long after = SpaceCommandsThroughMountTest.blocks(set.get(i));
            assertTrue(after < blocksBefore.get(i), "member " + (i + 1) + ": " + blocksBefore.get(i) + " -> " + after
                    + " bytes after " + ours);
            given += blocksBefore.get(i) - after;
        }
        assertTrue(given >= 110L << 20, given + " bytes given back after " + ours);
        Shell.Result check = MemberSets.check(set);
        assertEquals(0, check.exitCode(), check.output());
        // the kernel's fstrim of the same set gives back 4 KiB more (one block its rw mount frees, not found yet)
        long kernel = MemberSets.withKernelMount(before, tmp, "",
                k -> SpaceCommandsThroughMountTest.trimmed(Shell.sh("fstrim -v .", k)));
        assertTrue(Math.abs(kernel - SpaceCommandsThroughMountTest.trimmed(ours)) <= 4096,
                "ours " + ours + ", the kernel's " + kernel);
    }

    /** The mount option naming every member but the first. */
    private static String others(List<Path> set) {
        StringBuilder out = new StringBuilder();
        for (Path p : set.subList(1, set.size())) out.append(out.length() == 0 ? "" : ",").append("device=").append(p);
        return out.toString();
    }

    /** The output with each member's path (a loop device on the kernel's mount, an image on ours) as PATH. */
    private static String paths(String output) {
        return output.replaceAll("/\\S+(\\.img|/dev/loop\\d+)", "PATH").replaceAll("/dev/loop\\d+", "PATH");
    }
}
