package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;
import jbtrfs.volumes.SetParity;

/**
 * Multi-device sets written through a read-write {@code bin/jbtrfs mount -o device=...}: after our workload (enough
 * data for new chunks across the members, a rename, deletes, overwrites) {@code btrfs check} is clean on the set,
 * the kernel mounts it and lists exactly what our mount listed, and the kernel's scrub finds no error in any copy;
 * on RAID5/6 every full stripe's P and Q on the members is the parity of its data, and our read-only mount without
 * one member (RAID5) or two (RAID6) lists the same view, rebuilt from parity.
 * A RAID1, RAID5 or RAID6 set of members of three sizes, filled by us and (a copy) by the kernel, takes as many
 * files and ends with the same data chunks on each member as the kernel's.
 * It runs in the native transport's execution only (pom.xml): the writes are no more the transport's business than
 * a one-device image's are.
 */
@ExtendWith(MountPrereqs.FuseAndKernelBtrfs.class)
class MultiDeviceWriteThroughMountTest {
    /**
     * Our workload ($LOG: the daemon's log): files until the daemon has made a new data chunk (mkfs gives small
     * sets one of up to half the space), a rename, deletes, overwrites. No snapshot: one of the top subvolume through
     * our mount fails btrfs check (owner ref check failed) on a one-device image too, outside multi-device writes.
     */
    private static final String WORKLOAD = """
            set -e
            head -c 20000000 /dev/urandom > big1.bin
            for i in $(seq 1 40); do head -c $((i * 5003)) /dev/urandom > f$i; done
            mkdir -p dir/sub && seq 1 200000 > dir/sub/numbers.txt
            for i in $(seq 1 30); do
              head -c 8000000 /dev/urandom > fill$i
              if grep -q "new data .* chunk at " "$LOG"; then break; fi
            done
            mv f1 dir/renamed
            rm f2 fill1
            head -c 5000000 /dev/urandom > big2.bin
            dd if=/dev/urandom of=big1.bin bs=4096 seek=1000 count=500 conv=notrunc 2>/dev/null
            echo changed > f3
            sync
            """;

    @TempDir
    Path tmp;

    /**
     * RAID5/6 members are larger: the kernel's scrub of a parity chunk first makes it read-only, which fails ENOSPC
     * on a set with no room left for another chunk.
     */
    @ParameterizedTest(name = "data {0}, metadata {1}, over {2} of {3} MiB")
    @CsvSource({"raid0, raid0, 2, 128", "raid1, raid1, 2, 128", "raid10, raid10, 4, 128", "raid1c3, raid1c3, 3, 128",
            "raid1c4, raid1c4, 4, 128", "single, raid1, 2, 128", "raid5, raid5, 3, 256", "raid6, raid6, 4, 256"})
    void readWriteWorkload_checkClean_kernelListsOurView_scrubClean(String data, String metadata, int members,
            int mib) throws Exception {
        List<Path> set = MemberSets.mkfs(tmp, members, mib, "-d", data, "-m", metadata);
        Path mnt = Files.createTempDirectory(tmp, "ours");
        StringBuilder devices = new StringBuilder();
        for (Path p : set.subList(1, members)) {
            devices.append(devices.length() == 0 ? "" : ",").append("device=").append(p);
        }
        Jbtrfs.mountReadWrite(set.get(0), mnt, "-o", devices.toString());
        Map<String, String> ours;
        try {
            Path log = Jbtrfs.log(mnt);
            Shell.sh("LOG=" + log + "\n" + WORKLOAD, mnt);
            ours = TreeListing.ofMount(mnt);
            String said = Files.readString(log);
            assertTrue(said.contains("new data " + profileName(data) + " chunk at "), "no new data chunk: " + said);
        } finally {
            Jbtrfs.unmount(mnt);
        }
        if (data.startsWith("raid5") || data.startsWith("raid6")) {
            // before any kernel mount: its scrub would put a wrong P or Q right without a word
            SetParity.Result parity = SetParity.check(set);
            assertEquals(List.of(), parity.mismatches(), parity.checked() + " full stripes checked");
            assertTrue(parity.checked() > 100, "full stripes with data: " + parity.checked());
            // as many members gone as the profile survives: every byte we wrote comes back rebuilt from parity
            assertDegradedView(set, data.equals("raid5") ? List.of(1) : List.of(0, 2), ours);
        }
        Shell.Result check = MemberSets.check(set);
        assertEquals(0, check.exitCode(), check.output());
        List<String> kernelSaw = new ArrayList<>();
        Shell.Result scrub = MemberSets.withKernelMount(set, tmp, "", k -> {
            kernelSaw.addAll(TreeListing.differences(ours, TreeListing.ofMount(k), 10));
            return Shell.attempt(List.of("btrfs", "scrub", "start", "-B", k.toString()));
        });
        assertEquals(List.of(), kernelSaw);
        assertEquals(0, scrub.exitCode(), scrub.output());
        assertTrue(scrub.output().contains("no errors found"), scrub.output());
    }

    /** Our read-only mount of {@code set} without the members at {@code gone} (-o degraded) lists {@code view}. */
    private void assertDegradedView(List<Path> set, List<Integer> gone, Map<String, String> view) throws Exception {
        List<Path> left = new ArrayList<>();
        for (int i = 0; i < set.size(); i++) if (!gone.contains(i)) left.add(set.get(i));
        StringBuilder options = new StringBuilder("ro,degraded");
        for (Path p : left.subList(1, left.size())) options.append(",device=").append(p);
        Path mnt = Files.createTempDirectory(tmp, "degraded");
        Jbtrfs.mount(left.get(0), mnt, "-o", options.toString());
        try {
            assertEquals(List.of(), TreeListing.differences(view, TreeListing.ofMount(mnt), 10), "without " + gone);
        } finally {
            Jbtrfs.unmount(mnt);
        }
    }

    /** Fills the mount with 8 MB files until a write fails (ENOSPC); how many were written whole. */
    private static final String FILL = """
            i=0
            while head -c 8000000 /dev/zero > f$i 2>/dev/null; do i=$((i + 1)); [ $i -gt 100 ] && break; done
            echo $i
            """;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"raid1", "raid5", "raid6"})
    void mixedMemberSizes_fillToTheKernelsUsableSize(String profile) throws Exception {
        List<Path> set = new ArrayList<>();
        for (int mib : new int[] {128, 160, 320}) {
            Path member = tmp.resolve("mixed-" + mib + ".img");
            Shell.run(List.of("truncate", "-s", mib + "M", member.toString()));
            set.add(member);
        }
        List<String> mkfs = new ArrayList<>(List.of("mkfs.btrfs", "-q", "-f", "-d", profile, "-m", profile));
        for (Path p : set) mkfs.add(p.toString());
        Shell.run(mkfs);
        List<Path> kernelSet = MemberSets.copy(set, tmp);
        Path mnt = Files.createTempDirectory(tmp, "ours");
        Jbtrfs.mountReadWrite(set.get(0), mnt, "-o", "device=" + set.get(1) + ",device=" + set.get(2));
        String ours;
        try {
            ours = Shell.sh(FILL, mnt).strip();
        } finally {
            Jbtrfs.unmount(mnt);
        }
        Shell.Result check = MemberSets.check(set);
        assertEquals(0, check.exitCode(), check.output());
        String kernel = MemberSets.withKernelMount(kernelSet, tmp, "", k -> Shell.sh(FILL, k).strip());
        assertEquals(kernel, ours, "8 MB files written before ENOSPC");
        assertEquals(MemberSets.withKernelMount(kernelSet, tmp, "ro", MultiDeviceWriteThroughMountTest::dataUsage),
                MemberSets.withKernelMount(set, tmp, "ro", MultiDeviceWriteThroughMountTest::dataUsage));
    }

    /** The Data lines of {@code btrfs filesystem usage -b}: the size allocated, and each member's share in devid order. */
    private static List<String> dataUsage(Path mnt) throws Exception {
        List<String> out = new ArrayList<>();
        boolean inData = false;
        for (String line : Shell.run(List.of("btrfs", "filesystem", "usage", "-b", mnt.toString())).lines().toList()) {
            if (line.startsWith("Data,")) {
                out.add(line.replaceAll(", Used:.*", ""));
                inData = true;
            } else if (inData && line.startsWith("   /dev/")) {
                out.add(line.replaceAll("^\\s*/dev/\\S+", "member"));
            } else {
                inData = false;
            }
        }
        assertTrue(out.size() > 1, "no Data lines: " + out);
        return out;
    }

    private static String profileName(String profile) {
        return profile.equals("single") ? "single" : profile.toUpperCase(Locale.ROOT);
    }
}
