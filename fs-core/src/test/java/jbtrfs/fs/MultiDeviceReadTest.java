package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.Images;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.TreeListing;

/**
 * Multi-device filesystems the kernel wrote, one per profile: our read-only open with device= lists exactly the
 * kernel's view; with members missing (-o degraded) or one member's contents zeroed, every file still reads right.
 */
class MultiDeviceReadTest {
    /** One kernel-written set per profile, shared by the tests of this class (each makes its own copies to damage). */
    @TempDir
    static Path shared;

    @TempDir
    Path tmp;

    private record Written(List<Path> members, Map<String, String> listing) {
    }

    private static final Map<String, Written> SETS = new HashMap<>();

    @BeforeEach
    void prerequisites() {
        Images.requireKernelBtrfs();
    }

    /**
     * The set for {@code profile} ("single": single data over two members; "dup": DUP metadata, RAID0 data), made and
     * written on first use.
     */
    private static synchronized Written set(String profile) throws Exception {
        Written w = SETS.get(profile);
        if (w != null) return w;
        List<Path> members = switch (profile) {
            case "single" -> MemberSets.mkfs(shared, 2, 128, "-d", "single", "-m", "raid1");
            case "dup" -> MemberSets.mkfs(shared, 2, 192, "-d", "raid0", "-m", "dup"); // DUP needs 165 MiB a member
            case "raid0", "raid1" -> MemberSets.mkfs(shared, 2, 128, "-d", profile, "-m", profile);
            case "raid1c3", "raid5" -> MemberSets.mkfs(shared, 3, 128, "-d", profile, "-m", profile);
            default -> MemberSets.mkfs(shared, 4, 128, "-d", profile, "-m", profile);
        };
        w = new Written(members, MemberSets.kernelWritten(members, shared));
        assertTrue(w.listing().size() > 10, "the kernel wrote the tree");
        SETS.put(profile, w);
        return w;
    }

    private static Filesystem open(List<Path> members, boolean degraded) throws Exception {
        return Filesystem.open(members.get(0), MountOptions.readOnlyDefaults()
                .withDevices(members.subList(1, members.size()), degraded), null);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"single", "dup", "raid0", "raid1", "raid10", "raid1c3", "raid1c4", "raid5", "raid6"})
    void readOnlyOpen_listsWhatTheKernelLists(String profile) throws Exception {
        Written w = set(profile);
        // members in another order than mkfs gave them: matched by devid, not by position
        List<Path> shuffled = new ArrayList<>(w.members());
        shuffled.add(shuffled.remove(0));
        try (Filesystem fs = open(shuffled, false)) {
            assertEquals(List.of(), TreeListing.differences(w.listing(), TreeListing.ofOperations(fs.operations()), 10));
            assertEquals(0, fs.counters().dataChecksumFailures());
            assertEquals(0, fs.counters().mirrorRetries());
            assertEquals(w.members().size(), fs.info().devices().size());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid1:1", "raid10:1", "raid1c3:2", "raid1c4:3", "raid5:1", "raid6:2"})
    void degradedOpen_withMembersMissing_readsEveryFile(String profileAndMissing) throws Exception {
        String profile = profileAndMissing.split(":")[0];
        int missing = Integer.parseInt(profileAndMissing.split(":")[1]);
        Written w = set(profile);
        List<Path> present = new ArrayList<>(w.members());
        for (int i = 0; i < missing; i++) present.remove(1);
        try (Filesystem fs = open(present, true)) {
            assertEquals(List.of(), TreeListing.differences(w.listing(), TreeListing.ofOperations(fs.operations()), 10));
            long shownMissing = fs.info().devices().stream().filter(d -> d.path() == null).count();
            assertEquals(missing, shownMissing);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"raid1", "raid10", "raid1c3", "raid5", "raid6"})
    void memberZeroed_everyReadRecoveredFromTheOthers(String profile) throws Exception {
        Written w = set(profile);
        List<Path> copies = MemberSets.copy(w.members(), tmp);
        MemberSets.zeroContents(copies.get(0));
        try (Filesystem fs = open(copies, false)) {
            assertEquals(List.of(), TreeListing.differences(w.listing(), TreeListing.ofOperations(fs.operations()), 10));
            assertTrue(fs.counters().mirrorRetries() > 0, "reads went to the other copies or to parity");
            assertEquals(0, fs.counters().corruptBlocks());
        }
    }

    @Test
    void missingMember_refusedNamingItsDevidAndUuid() throws Exception {
        Written w = set("raid1");
        FsException e = assertThrows(FsException.class, () -> open(w.members().subList(0, 1), false).close());
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().matches("device devid 2 \\(uuid [0-9a-f-]{36}\\) is missing: name it with "
                + "-o device=PATH, or mount with -o degraded"), e.getMessage());
    }

    @Test
    void degraded_withTooManyMissing_refused() throws Exception {
        Written w = set("raid5");
        FsException e = assertThrows(FsException.class, () -> open(w.members().subList(0, 1), true).close());
        assertTrue(e.getMessage().startsWith("too many devices missing even for -o degraded: the RAID5 chunk at "
                + "logical "), e.getMessage());
    }

    @Test
    void memberOfAnotherFilesystem_orGivenTwice_refused() throws Exception {
        Written raid1 = set("raid1");
        Written raid0 = set("raid0");
        FsException other = assertThrows(FsException.class,
                () -> open(List.of(raid1.members().get(0), raid0.members().get(1)), false).close());
        assertTrue(other.getMessage().startsWith(raid0.members().get(1) + " is a device of another filesystem (fsid "),
                other.getMessage());
        List<Path> twice = List.of(raid1.members().get(0), raid1.members().get(1), raid1.members().get(1));
        FsException dup = assertThrows(FsException.class, () -> open(twice, false).close());
        assertTrue(dup.getMessage().contains(" are both devid 2 "), dup.getMessage());
    }

    @Test
    void readWriteOpen_ofMissingMemberWithoutDegraded_refusedInOneLine() throws Exception {
        Written raid1 = set("raid1");
        FsException degraded = assertThrows(FsException.class, () -> Filesystem.open(raid1.members().get(0),
                MountOptions.readWriteDefaults().withDevices(List.of(), false), null).close());
        assertTrue(degraded.getMessage().matches("device devid 2 \\(uuid [0-9a-f-]{36}\\) is missing: name it with "
                + "-o device=PATH, or mount with -o degraded"), degraded.getMessage());
    }

    @Test
    void staleMember_readWriteRefused_readOnlyStillOpens() throws Exception {
        List<Path> set = MemberSets.copy(set("raid1").members(), tmp);
        List<Path> stale = MemberSets.copy(set.subList(1, 2), tmp);
        try (Filesystem fs = Filesystem.open(set.get(0), MountOptions.readWriteDefaults()
                .withDevices(set.subList(1, 2), false), null)) {
            fs.operations().mkdir(fs.operations().root(), "after", 0755, 0, 0);
        }
        FsException e = assertThrows(FsException.class, () -> Filesystem.open(set.get(0), MountOptions
                .readWriteDefaults().withDevices(stale, false), null).close());
        assertTrue(e.getMessage().matches(".* \\(devid 2\\) is at generation \\d+, .* at \\d+: the members of the set "
                + "do not agree; mount it read-only \\(-o ro\\)"), e.getMessage());
        open(List.of(set.get(0), stale.get(0)), false).close();
    }
}
