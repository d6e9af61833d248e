package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.testing.MemberSets;

/** The device meters of a set's members carry each member's devid beside its path (names unchanged). */
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
}
