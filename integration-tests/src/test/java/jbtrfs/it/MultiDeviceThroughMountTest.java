package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Multi-device sets the kernel wrote, mounted read-only through {@code bin/jbtrfs mount -o device=...}: the mount
 * lists exactly the kernel's view, with every member and with members missing (-o degraded); what cannot mount is
 * refused in one line; {@code jbtrfs info} lists every member. (Every profile is compared through fs-core in
 * MultiDeviceReadTest; here a striped, a parity and a single set go through FUSE.)
 */
@ExtendWith(MountPrereqs.FuseAndKernelBtrfs.class)
class MultiDeviceThroughMountTest {
    @TempDir
    Path tmp;

    private static String[] deviceOptions(List<Path> others, String extra) {
        StringBuilder o = new StringBuilder("ro");
        for (Path p : others) o.append(",device=").append(p);
        return new String[] {"-o", o + extra};
    }

    @ParameterizedTest(name = "{0} over {1}, {2} missing")
    @CsvSource({"single, 2, 0", "raid10, 4, 1", "raid6, 4, 2"})
    void readOnlyMount_listsWhatTheKernelLists(String profile, int members, int missing) throws Exception {
        List<Path> set = MemberSets.mkfs(tmp, members, 128, "-d", profile, "-m", profile.equals("single") ? "raid1"
                : profile);
        Map<String, String> kernel = MemberSets.kernelWritten(set, tmp);
        Path mnt = Files.createTempDirectory(tmp, "ours");
        // the positional device last of mkfs's order: members match by devid, not by position
        List<Path> others = new ArrayList<>(set.subList(0, members - 1));
        Jbtrfs.mount(set.get(members - 1), mnt, deviceOptions(others, ""));
        try {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10));
        } finally {
            Jbtrfs.unmount(mnt);
        }
        if (missing == 0) return;
        List<Path> fewer = others.subList(missing, others.size());
        Jbtrfs.mount(set.get(members - 1), mnt, deviceOptions(fewer, ",degraded"));
        try {
            assertEquals(List.of(), TreeListing.differences(kernel, TreeListing.ofMount(mnt), 10));
        } finally {
            Jbtrfs.unmount(mnt);
        }
    }

    @Test
    void missingMember_orDegradedReadWrite_refusedInOneLine_andInfoListsEveryMember() throws Exception {
        List<Path> set = MemberSets.mkfs(tmp, 3, 128, "-d", "raid5", "-m", "raid5");
        Path mnt = Files.createTempDirectory(tmp, "ours");
        String missing = Jbtrfs.refusal("mount", "-o", "ro,device=" + set.get(1), set.get(0).toString(),
                mnt.toString());
        assertTrue(missing.matches("device devid 3 \\(uuid [0-9a-f-]{36}\\) is missing: name it with -o device=PATH, "
                + "or mount with -o degraded"), missing);
        String readWrite = Jbtrfs.refusal("mount", "-o", "degraded,device=" + set.get(1), set.get(0).toString(),
                mnt.toString());
        assertTrue(readWrite.matches("read-write degraded mounts of RAID5/6 chunks are not supported \\(the RAID5 "
                + "chunk at logical \\d+ lost a stripe\\): mount with -o degraded,ro"), readWrite);
        String tooFew = Jbtrfs.refusal("mount", "-o", "ro,degraded", set.get(0).toString(), mnt.toString());
        assertTrue(tooFew.startsWith("too many devices missing even for -o degraded: "), tooFew);

        Shell.Result info = Jbtrfs.run("info", set.get(0).toString(), set.get(2).toString());
        assertEquals(0, info.exitCode(), info.output());
        String out = info.output();
        assertTrue(out.contains("members:"), out);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s+1 [0-9a-f-]{36} .* " + set.get(0))), out);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s+2 [0-9a-f-]{36} .* \\(missing\\)")), out);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s+3 [0-9a-f-]{36} .* " + set.get(2))), out);
    }
}
