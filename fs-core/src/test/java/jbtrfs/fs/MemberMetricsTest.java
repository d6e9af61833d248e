package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.MemberSets;
import jbtrfs.tx.TransactionManager;

/**
 * The device meters of a set's members carry each member's devid beside its path (names unchanged), and a commit's
 * written bytes are what its tree block writes put on the members.
 */
class MemberMetricsTest {
    @TempDir
    Path tmp;

    @Test
    void membersOfASet_areToldApartByTheirDevidTag() throws Exception {
        List<Path> members = MemberSets.mkfs(tmp, 2, 128, "-d", "raid1", "-m", "raid1");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        // the second member given first: the tag is its own superblock's devid, not the order given
        try (Filesystem fs = Filesystem.open(members.get(1), MountOptions.readOnlyDefaults()
                .withDevices(List.of(members.get(0)), false), registry)) {
            fs.operations().stat(fs.operations().root());
            Map<String, String> pathByDevid = new TreeMap<>();
            double reads = 0;
            for (Counter c : registry.find("jbtrfs.device.requests.submitted").tag("type", "read").counters()) {
                pathByDevid.put(c.getId().getTag("devid"), c.getId().getTag("device"));
                reads += c.count();
            }
            assertEquals(Map.of("1", members.get(0).toString(), "2", members.get(1).toString()), pathByDevid);
            assertTrue(reads > 0, "the open read through the meters");
        }
    }

    /**
     * The bytes a commit reports written (the jbtrfs.commit.written meter) are the bytes of the write requests its
     * members got, superblocks aside: every mirror for RAID1, the data once and the parity for RAID5/6 (it used to
     * count RAID5 blocks twice and RAID6 blocks once per member, as many times as there are ways to read them).
     */
    @ParameterizedTest(name = "metadata {0} over {1}")
    @CsvSource({"raid1, 2", "raid5, 3", "raid6, 4"})
    void commitWrittenBytes_areTheWriteRequestsTheMembersGot(String metadata, int count) throws Exception {
        List<Path> files = MemberSets.mkfs(tmp, count, 128, "-d", metadata, "-m", metadata);
        List<MemoryBlockDevice> members = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            members.add(MemoryBlockDevice.create(files.get(i), 64, FaultPlan.none(), i, new SimpleMeterRegistry())
                    .recordRequests());
        }
        try (Filesystem fs = Filesystem.openMembers(members, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            smallFiles(ops, "a");
            fs.transactions().commit();
            // metadata only (inline files): nothing but the commit's own writes between the two marks
            smallFiles(ops, "b");
            List<Integer> marks = new ArrayList<>();
            for (MemoryBlockDevice m : members) marks.add(m.submittedRequests().size());
            TransactionManager.CommitStats stats = fs.transactions().commit();
            long written = 0;
            for (int i = 0; i < count; i++) {
                List<MemoryBlockDevice.Submitted> made = members.get(i).submittedRequests();
                for (MemoryBlockDevice.Submitted r : made.subList(marks.get(i), made.size())) {
                    if (r.op() == IoRequest.Op.WRITE && r.offset() != SuperBlock.MIRROR_OFFSETS[0]
                            && r.offset() != SuperBlock.MIRROR_OFFSETS[1]) {
                        written += r.length();
                    }
                }
            }
            assertTrue(stats.writeout().treeBlocks() > 0, stats.toString());
            long caches = stats.caches() == null ? 0 : stats.caches().bytes(); // none with the free-space tree
            assertEquals(written, stats.writeout().bytes() + caches, stats.toString());
        }
    }

    /** A directory of 40 files small enough to be inline: tree blocks only. */
    private static void smallFiles(FsOperations ops, String dir) throws Exception {
        InodeId d = ops.mkdir(ops.root(), dir, 0755, 0, 0);
        for (int i = 0; i < 40; i++) {
            ops.write(ops.mknod(d, "f" + i, Stat.S_IFREG | 0644, 0, 0, 0), 0, ByteBuffer.wrap(new byte[100]));
        }
    }
}
