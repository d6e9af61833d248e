package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Shell;
import jbtrfs.volumes.SetParity;

/**
 * Scrub of a multi-device set the kernel wrote (RAID1, RAID10, RAID0 data, RAID5 and RAID6), one member's contents
 * zeroed: per device, our counters are the kernel's `btrfs scrub start -B -d -R -r` on a copy of the same damage (RAID0's data
 * there uncorrectable); a repairing scrub over in-memory copies of the members writes the good copies back, after
 * which ours and the kernel's scrub find nothing.
 */
class ScrubSetTest {
    @TempDir
    static Path shared;

    @TempDir
    Path tmp;

    private static final Map<String, List<Path>> WRITTEN = new HashMap<>();

    private static final String[] ALL = {"data_extents_scrubbed", "tree_extents_scrubbed", "data_bytes_scrubbed",
        "tree_bytes_scrubbed", "read_errors", "csum_errors", "verify_errors", "no_csum", "csum_discards",
        "super_errors", "malloc_errors", "uncorrectable_errors", "corrected_errors", "last_physical",
        "unverified_errors"};

    private static final Pattern COUNTER = Pattern.compile("^\\s+(\\w+): (\\d+)$");

    private static final List<String> ERRORS = List.of("read_errors", "csum_errors", "verify_errors",
            "super_errors", "uncorrectable_errors", "corrected_errors");

    /**
     * The set of {@code profile}, made and written by the kernel on first use (each test damages its own copy):
     * raid1 over two members, raid10 over four, raid0 data (RAID1 metadata) over two.
     */
    private static synchronized List<Path> written(String profile) throws Exception {
        List<Path> members = WRITTEN.get(profile);
        if (members == null) {
            members = switch (profile) {
                case "raid10" -> MemberSets.mkfs(shared, 4, 128, "-d", "raid10", "-m", "raid10");
                case "raid0" -> MemberSets.mkfs(shared, 2, 128, "-d", "raid0", "-m", "raid1");
                case "raid5" -> MemberSets.mkfs(shared, 3, 256, "-d", "raid5", "-m", "raid5");
                case "raid6" -> MemberSets.mkfs(shared, 4, 256, "-d", "raid6", "-m", "raid6");
                default -> MemberSets.mkfs(shared, 2, 128, "-d", profile, "-m", profile);
            };
            MemberSets.kernelWritten(members, shared);
            WRITTEN.put(profile, members);
        }
        return members;
    }

    /** A copy of the set whose second member (devid 2) reads zeros wherever a chunk lies. */
    private List<Path> damagedCopy(String profile) throws Exception {
        Images.requireKernelBtrfs();
        List<Path> copy = MemberSets.copy(written(profile), tmp);
        MemberSets.zeroContents(copy.get(1));
        return copy;
    }

    private static Filesystem openReadOnly(List<Path> members) throws Exception {
        return Filesystem.open(members.get(0), MountOptions.readOnlyDefaults()
                .withDevices(members.subList(1, members.size()), false), null);
    }

    /** Runs {@code scrubber} on every member at once (as btrfs scrub start does); the status of each by devid. */
    private static Map<Long, ScrubStatus> scrubAll(Scrubber scrubber, boolean readOnly) throws Exception {
        for (long devid : scrubber.devids()) scrubber.start(devid, 0, -1, readOnly);
        Map<Long, ScrubStatus> out = new TreeMap<>();
        for (long devid : scrubber.devids()) out.put(devid, scrubber.await(devid));
        return out;
    }

    /** The kernel's read-only scrub of a copy of {@code members} (-d -R): each device's raw counters by devid. */
    private Map<Long, Map<String, Long>> kernelScrub(List<Path> members) throws Exception {
        return kernelScrub(members, "ro");
    }

    /** As {@link #kernelScrub(List)}, the copy mounted with {@code options}. */
    private Map<Long, Map<String, Long>> kernelScrub(List<Path> members, String options) throws Exception {
        List<Path> copy = MemberSets.copy(members, Files.createTempDirectory(tmp, "kernel"));
        String out = MemberSets.withKernelMount(copy, tmp, options, mnt -> Shell.sh(
                "btrfs scrub start -B -d -R -r " + mnt + " || true"));
        Map<Long, Map<String, Long>> byDevid = new TreeMap<>();
        Matcher device = Pattern.compile("(?mi)^scrub device \\S+ \\(id (\\d+)\\)").matcher(out);
        Map<String, Long> section = null;
        for (String line : out.split("\n")) {
            if (device.reset(line).find()) {
                section = byDevid.computeIfAbsent(Long.parseLong(device.group(1)), d -> new HashMap<>());
                continue;
            }
            Matcher x = COUNTER.matcher(line);
            if (section != null && x.matches()) section.put(x.group(1), Long.parseLong(x.group(2)));
        }
        List<Long> devids = new ArrayList<>();
        for (long d = 1; d <= members.size(); d++) devids.add(d);
        assertEquals(devids, List.copyOf(byDevid.keySet()), "the kernel scrubbed every device: " + out);
        return byDevid;
    }

    private static Map<String, Long> counters(ScrubProgress p) {
        Map<String, Long> out = new HashMap<>();
        long[] a = p.toArray();
        for (int i = 0; i < ALL.length; i++) out.put(ALL[i], a[i]);
        return out;
    }

    /** Our read-only scrub of {@code members}: each device finished, its counters (but {@code skip}) the kernel's. */
    private static Map<Long, ScrubStatus> ourScrubEquals(List<Path> members, Map<Long, Map<String, Long>> kernel,
                                                         List<String> skip) throws Exception {
        Map<Long, ScrubStatus> ours;
        try (Filesystem fs = openReadOnly(members)) {
            ours = scrubAll(fs.operations().scrubber(), true);
        }
        assertEquals(kernel.keySet(), ours.keySet());
        for (long devid : ours.keySet()) {
            ScrubStatus s = ours.get(devid);
            assertEquals(ScrubStatus.State.FINISHED, s.state(), "devid " + devid + ": " + s.failure());
            Map<String, Long> o = counters(s.progress());
            for (String f : ALL) {
                if (skip.contains(f)) continue;
                assertEquals(kernel.get(devid).get(f), o.get(f), "devid " + devid + " " + f + " (kernel "
                        + kernel.get(devid) + ", ours " + o + ")");
            }
        }
        return ours;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid1", "raid10", "raid0"})
    void readOnlyScrubOfSetWithAZeroedMember_countsPerDeviceAsTheKernelsScrub(String profile) throws Exception {
        List<Path> members = damagedCopy(profile);
        Map<Long, Map<String, Long>> kernel = kernelScrub(members);

        Map<Long, ScrubStatus> ours = ourScrubEquals(members, kernel, List.of());
        ScrubProgress bad = ours.get(2L).progress();
        assertTrue(bad.csumErrors() > 0 && bad.verifyErrors() > 0, "the zeroed member's data and tree blocks: " + bad);
        if (profile.equals("raid0")) {
            assertTrue(bad.uncorrectableErrors() > 0, "RAID0 data has no other copy: " + bad);
        } else {
            assertEquals(0, bad.uncorrectableErrors(), "every copy on the other members is good");
        }
        assertTrue(!ours.get(1L).progress().errors(), "devid 1 is clean: " + ours.get(1L).progress());
    }

    /** RAID5/6 (3 and 4 members): on a set the kernel wrote, each device's data stripes counted as its scrub does. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid5", "raid6"})
    void readOnlyScrubOfParitySet_countsPerDeviceAsTheKernelsScrub(String profile) throws Exception {
        Images.requireKernelBtrfs();
        List<Path> members = MemberSets.copy(written(profile), tmp);
        // the kernel's RAID5/6 scrub sets each block group read-only, which its read-only mount refuses (ENOSPC)
        Map<Long, Map<String, Long>> kernel = kernelScrub(members, "rw");

        // not yet matched on RAID6: the kernel ends one device's last_physical at the device's end
        Map<Long, ScrubStatus> ours = ourScrubEquals(members, kernel,
                profile.equals("raid6") ? List.of("last_physical") : List.of());
        for (long devid : ours.keySet()) {
            Map<String, Long> o = counters(ours.get(devid).progress());
            assertTrue(o.get("data_bytes_scrubbed") > 0, "devid " + devid + " holds data stripes: " + o);
        }
    }

    @Test
    void scrubOfADeviceNotInTheSet_isRefused() throws Exception {
        Images.requireKernelBtrfs();
        List<Path> members = MemberSets.copy(written("raid5"), tmp);
        try (Filesystem fs = openReadOnly(members)) {
            Scrubber s = fs.operations().scrubber();
            assertEquals(List.of(1L, 2L, 3L), s.devids());
            assertErrno(Errno.ENODEV, () -> s.start(4, 0, -1, true));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid1", "raid10", "raid5", "raid6"})
    void repairingScrubOfSetInMemory_writesTheGoodCopiesBackToTheZeroedMember(String profile) throws Exception {
        List<Path> members = damagedCopy(profile);
        Map<Long, BlockDevice> inMemory = new TreeMap<>();
        for (int i = 0; i < members.size(); i++) {
            inMemory.put(i + 1L, PowerCuts.memoryDevice(members.get(i)));
        }
        Map<Long, ScrubStatus> repair;
        Map<Long, ScrubStatus> again;
        try (Filesystem fs = openReadOnly(members)) {
            Scrubber onCopies = fs.operations().scrubber().onMembers(inMemory);
            // every member at once: the zeroed member's data repairs and the other members' parity checks interleave
            repair = scrubAll(onCopies, false);
            again = scrubAll(fs.operations().scrubber().onMembers(inMemory), true);
        }

        ScrubProgress fixed = repair.get(2L).progress();
        long bad = fixed.csumErrors() + fixed.verifyErrors() + fixed.readErrors();
        assertTrue(fixed.csumErrors() > 0 && fixed.verifyErrors() > 0, "the zeroed member was bad: " + fixed);
        assertEquals(bad, fixed.correctedErrors(), "every bad sector corrected: " + fixed);
        assertEquals(0, fixed.uncorrectableErrors());
        for (long devid : repair.keySet()) {
            if (devid == 2) continue;
            assertTrue(!repair.get(devid).progress().errors(), "devid " + devid + " was clean: "
                    + repair.get(devid).progress());
        }
        for (long devid : again.keySet()) {
            assertTrue(!again.get(devid).progress().errors(), "devid " + devid + " after the repair: "
                    + again.get(devid).progress());
        }

        // the repaired members, as files, are clean to the kernel's scrub too
        for (int i = 0; i < members.size(); i++) {
            Files.write(members.get(i), ((MemoryBlockDevice) inMemory.get(i + 1L)).snapshot());
        }
        if (profile.matches("raid[56]")) {
            // the zeroed P and Q rewritten from the data (the kernel's scrub would rewrite them without a count)
            SetParity.Result kernels = SetParity.check(written(profile));
            SetParity.Result after = SetParity.check(members);
            assertEquals(List.of(), after.mismatches());
            assertEquals(kernels.checked(), after.checked(), "every full stripe the kernel wrote parity for has it");
        }
        Map<Long, Map<String, Long>> kernel = kernelScrub(members, profile.matches("raid[56]") ? "rw" : "ro");
        for (long devid : kernel.keySet()) {
            for (String f : ERRORS) {
                assertEquals(0L, kernel.get(devid).get(f), "the kernel's scrub of devid " + devid + " after ours: "
                        + kernel.get(devid));
            }
            assertEquals(counters(again.get(devid).progress()).get("data_bytes_scrubbed"),
                    kernel.get(devid).get("data_bytes_scrubbed"), "devid " + devid);
        }
    }
}
