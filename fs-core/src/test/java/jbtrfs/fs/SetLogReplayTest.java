package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.CrashImages;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Log replay on a RAID1 set: the kernel's log, left on every member as a power cut leaves it (the members copied
 * while the kernel has the set mounted, after fsyncs and no commit), replayed by our read-write open shows what the
 * kernel's own replay shows; our log, left on in-memory members by a power cut after fsyncs, replayed by the
 * kernel shows what we had fsynced; each replayed set checks clean.
 */
class SetLogReplayTest {
    private static final int TRIES = 4;
    private static final String SCRIPT = """
            mkdir d; echo base > d/base; head -c 200000 /dev/urandom > d/old; sync
            head -c 100000 /dev/urandom > d/new1; xfs_io -c fsync d/new1
            echo small > d/new2; xfs_io -c fsync d/new2
            dd if=/dev/urandom of=d/old bs=4096 seek=5 count=3 conv=notrunc status=none; xfs_io -c fsync d/old
            rm d/base; xfs_io -c fsync d
            """;

    @TempDir
    Path dir;

    @Test
    void kernelLogOnRaid1Set_replayedByOurReadWriteOpen_asTheKernelReplaysIt_checkClean() throws Exception {
        CrashImages.require();
        List<Path> crash = crashedSet();
        Map<String, String> kernel = MemberSets.withKernelMount(MemberSets.copy(crash, dir), dir, "",
                TreeListing::ofMount);
        Map<String, String> ours;
        try (Filesystem fs = Filesystem.open(crash.get(0), MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withDevices(crash.subList(1, 2), false))) {
            assertNotEquals(null, fs.logReplay(), "the open replayed no log");
            ours = TreeListing.ofOperations(fs.operations());
        }
        assertEquals(List.of(), TreeListing.differences(PowerCuts.withoutTimes(kernel), PowerCuts.withoutTimes(ours),
                10));
        assertTrue(ours.containsKey("/d/new1") && !ours.containsKey("/d/base"), "the log's changes: " + ours.keySet());
        for (Path member : crash) assertEquals(0, CrashImages.logRoot(member), member + ": log_root after replay");
        Shell.Result check = MemberSets.check(crash);
        assertEquals(0, check.exitCode(), check.output());
    }

    @Test
    void ourLogOnRaid1Set_afterAPowerCut_replayedByTheKernel_showsWhatWeFsynced_checkClean() throws Exception {
        CrashImages.require();
        List<Path> set = MemberSets.mkfs(dir, 2, 128, "-d", "raid1", "-m", "raid1");
        List<MemoryBlockDevice> members = new ArrayList<>();
        for (Path p : set) {
            members.add(MemoryBlockDevice.create(p, 64, FaultPlan.none(), 1, new SimpleMeterRegistry()));
        }
        Map<String, String> fsynced;
        Filesystem fs = Filesystem.openMembers(members, MountOptions.readWriteDefaults().withCommitSeconds(0));
        try {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "d", 0755, 0, 0);
            InodeId old = ops.mknod(d, "old", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(old, 0, ByteBuffer.wrap(new byte[200_000]));
            ops.sync();
            long commits = fs.commits();
            byte[] data = new byte[100_000];
            new Random(19).nextBytes(data);
            InodeId fresh = ops.mknod(d, "new1", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(fresh, 0, ByteBuffer.wrap(data));
            ops.fsync(fresh, false);
            ops.write(old, 8192, ByteBuffer.wrap(data, 0, 12_288));
            ops.fsync(old, false);
            assertEquals(commits, fs.commits(), "the fsyncs wrote a log, no commit (fallbacks "
                    + fs.fsyncFallbacks() + ")");
            fsynced = PowerCuts.withoutTimes(TreeListing.ofOperations(ops));
            // the power goes now: every member keeps, drops or tears what it had not made durable
            for (int i = 0; i < members.size(); i++) members.get(i).powerCutTo(set.get(i), 40 + i);
        } finally {
            try {
                fs.close();
            } catch (IOException e) {
                // after the cut: the commit at close cannot reach the members, whose images are already taken
            }
        }
        for (Path member : set) assertNotEquals(0, CrashImages.logRoot(member), member + ": no log after the cut");
        Map<String, String> kernel = MemberSets.withKernelMount(set, dir, "", TreeListing::ofMount);
        assertEquals(List.of(), TreeListing.differences(fsynced, PowerCuts.withoutTimes(kernel), 10));
        Shell.Result check = MemberSets.check(set);
        assertEquals(0, check.exitCode(), check.output());
    }

    /**
     * A RAID1 set over two members with the kernel's log on both: {@link #SCRIPT} on a commit=300 mount, the members
     * copied while mounted; a try where the kernel committed after the base or during the copies is made again.
     */
    private List<Path> crashedSet() throws Exception {
        List<String> faults = new ArrayList<>();
        for (int attempt = 0; attempt < TRIES; attempt++) {
            List<Path> set = MemberSets.mkfs(dir, 2, 128, "-d", "raid1", "-m", "raid1");
            List<Path> copies = new ArrayList<>();
            long[] generations = MemberSets.withKernelMount(set, dir, "commit=300", mnt -> {
                Shell.sh(SCRIPT, mnt);
                long before = generation(set.get(0));
                copies.addAll(MemberSets.copy(set, dir));
                return new long[] {before, generation(set.get(0))};
            });
            long log = CrashImages.logRoot(copies.get(0));
            if (generations[0] == generations[1] && log != 0 && log == CrashImages.logRoot(copies.get(1))) {
                return copies;
            }
            faults.add("generation " + generations[0] + " -> " + generations[1] + ", log_root " + log);
            for (Path p : set) Files.delete(p);
        }
        throw new AssertionError("no crashed set in " + TRIES + " tries: " + faults);
    }

    private static long generation(Path member) throws Exception {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-super", member.toString()));
        Matcher m = Pattern.compile("(?m)^generation\\s+(\\d+)$").matcher(dump);
        assertTrue(m.find(), dump);
        return Long.parseLong(m.group(1));
    }
}
