package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Power loss across the members of a RAID1-metadata, RAID0-data set and of a RAID5 set: each member is an in-memory
 * device; the power goes at the Nth request of the first member, which fails it and everything after; the commit
 * aborts, so no member is written again; then every member keeps, drops or tears each write it had not made durable.
 * The set must check clean (btrfs check over loop devices) and hold exactly one committed state: the last one whose
 * sync returned, or the one being written (on RAID5 a cut inside a read-modify-write may leave a full stripe's P stale, the write
 * hole; with every member present nothing reads P). {@code -Djbtrfs.powercuts=N} runs N/5 cuts per set (CI runs 8).
 */
class MultiDevicePowerCutTest {
    private static final int ROUNDS = 4;
    private static final PowerCuts.Rounds WORKLOAD = new PowerCuts.Rounds(ROUNDS, 8, 400_000, false);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "data {0}, metadata {1}, over {2}")
    @CsvSource({"raid0, raid1, 2", "raid5, raid5, 3"})
    void powerCutAcrossMembers_everyMemberAtOneCommit_checkClean(String data, String metadata, int members)
            throws Exception {
        Images.requireKernelBtrfs(); // btrfs check of a set needs loop devices
        List<Path> set = MemberSets.mkfs(dir, members, 128, "-d", data, "-m", metadata);
        List<byte[]> images = new ArrayList<>();
        for (Path p : set) images.add(Files.readAllBytes(p));
        List<Map<String, String>> states = new ArrayList<>();
        List<MemoryBlockDevice> clean = members(images, FaultPlan.none(), 1);
        assertEquals(ROUNDS, WORKLOAD.run(openOrNull(clean), states));
        long requests = clean.get(0).requestsSubmitted();
        int cuts = Math.max(1, Integer.getInteger("jbtrfs.powercuts", 40) / 5);
        Random rnd = new Random(20);
        List<Path> cut = new ArrayList<>();
        for (int m = 1; m <= members; m++) cut.add(dir.resolve("cut-" + m + ".img"));
        for (int i = 0; i < cuts; i++) {
            long n = 1 + (long) (rnd.nextDouble() * requests);
            long seed = rnd.nextLong();
            List<MemoryBlockDevice> devs = members(images, FaultPlan.none().failNth(n), seed);
            int done = WORKLOAD.run(openOrNull(devs), null);
            for (int m = 0; m < devs.size(); m++) devs.get(m).powerCutTo(cut.get(m), seed + m);
            String what = "cut " + i + " at request " + n + " of " + requests + " of member 1 (seed " + seed + ", "
                    + done + " syncs returned)";
            Shell.Result check = MemberSets.check(cut);
            assertEquals(0, check.exitCode(), what + ": " + check.output());
            Map<String, String> got;
            try (Filesystem fs = Filesystem.open(cut.get(0), MountOptions.readOnlyDefaults()
                    .withDevices(cut.subList(1, members), false))) {
                got = PowerCuts.withoutTimes(TreeListing.ofOperations(fs.operations()));
            }
            PowerCuts.assertDoneOrNext(states, done, got, what + ", the set");
        }
    }

    /** In-memory members holding {@code images}; the first fails as {@code plan} says. */
    private static List<MemoryBlockDevice> members(List<byte[]> images, FaultPlan plan, long seed) {
        List<MemoryBlockDevice> out = new ArrayList<>();
        for (int i = 0; i < images.size(); i++) {
            out.add(MemoryBlockDevice.create(images.get(i), 64, i == 0 ? plan : FaultPlan.none(), seed + i,
                    new SimpleMeterRegistry()));
        }
        return out;
    }

    /** A read-write open of the set without the timer commit, or null when the power went before it finished. */
    private static Filesystem openOrNull(List<MemoryBlockDevice> members) {
        try {
            return Filesystem.openMembers(members, MountOptions.readWriteDefaults().withCommitSeconds(0));
        } catch (Exception e) {
            return null;
        }
    }
}
