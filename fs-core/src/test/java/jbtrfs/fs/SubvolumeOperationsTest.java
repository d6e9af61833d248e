package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Uuids;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Subvolumes made, snapshotted, flagged and deleted through {@link FsOperations}: btrfs check is clean after each
 * round, and the kernel's `btrfs subvolume list` and `show`, and its view of every file, agree with what our API
 * reported. Then the kernel snapshots and deletes on our image, and we go on (finishing its drop).
 */
class SubvolumeOperationsTest {
    static final Caller ROOT = new Caller(0, 0, new int[0]);
    private static final Pattern LIST_LINE = Pattern.compile(
            "ID (\\d+) gen (\\d+) top level (\\d+) parent_uuid (\\S+) +received_uuid (\\S+) +uuid (\\S+) path (\\S+)");

    @TempDir
    Path dir;

    @Test
    void createSnapshotFlagDelete_checkClean_kernelListsWhatWeReported() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 256, "-n", "4096");
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Map<String, SubvolumeInfo> ours = new HashMap<>();
        Map<String, String> files;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId top = ops.root();
            long sv = ops.createSubvolume(top, "sv", ROOT);
            assertEquals(256, sv);
            InodeId svRoot = ops.lookup(top, "sv");
            assertEquals(new InodeId(sv, ObjectIds.FIRST_FREE_DIR), svRoot);
            // a tree of several levels at 4 KiB nodes, and file data the snapshots share
            fill(ops, ops.mkdir(svRoot, "d", 0755, 0, 0), 700, new Random(1));
            InodeId big = ops.mknod(svRoot, "big", Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] bigData = new byte[1_500_000];
            new Random(2).nextBytes(bigData);
            ops.write(big, 0, ByteBuffer.wrap(bigData));
            Map<String, String> atSnapshot = subtree(TreeListing.ofOperations(ops), "/sv");
            long snap = ops.snapshot(sv, top, "snap", false, ROOT);
            long ro = ops.snapshot(sv, top, "ro", true, ROOT);
            // both sides change after the snapshot: the shared blocks are copied the kernel's way
            ops.write(big, 100_000, ByteBuffer.wrap("changed in sv".getBytes(StandardCharsets.UTF_8)));
            ops.unlink(ops.resolve("/sv/d"), "f7");
            ops.write(ops.resolve("/snap/big"), 900_000, ByteBuffer.wrap("changed in snap".getBytes(StandardCharsets.UTF_8)));
            ops.unlink(ops.resolve("/snap/d"), "f9");
            assertErrno(Errno.EROFS, () -> ops.unlink(ops.resolve("/ro/d"), "f1"));
            // a new subvolume takes no flags from the directory it is in, only its parent subvolume's properties
            ops.setFileFlags(svRoot, InodeFlags.FS_NOCOW_FL);
            long inner = ops.createSubvolume(svRoot, "inner", ROOT);
            InodeId innerRoot = ops.lookup(svRoot, "inner");
            assertEquals(0, ops.fileFlags(innerRoot));
            ops.setFileFlags(svRoot, 0);
            byte[] zstd = "zstd".getBytes(StandardCharsets.UTF_8);
            ops.setXattr(svRoot, "btrfs.compression", zstd, 0);
            ops.createSubvolume(ops.resolve("/sv/d"), "zs", ROOT);
            assertArrayEquals(zstd, ops.getXattr(ops.resolve("/sv/d/zs"), "btrfs.compression"));
            assertEquals(InodeFlags.FS_COMPR_FL, ops.fileFlags(ops.resolve("/sv/d/zs")));
            ops.deleteSubvolume(ops.resolve("/sv/d"), "zs", ROOT);
            ops.mknod(innerRoot, "x", Stat.S_IFREG | 0600, 0, 0, 0);
            // the top level snapshotted too: its subvolume entries show as the kernel's empty placeholders there
            long topsnap = ops.snapshot(ObjectIds.FS_TREE, top, "topsnap", true, ROOT);
            assertEquals(new InodeId(sv, ObjectIds.EMPTY_SUBVOL_DIR), ops.resolve("/topsnap/sv"));

            // the kernel's refusals
            assertErrno(Errno.EEXIST, () -> ops.createSubvolume(top, "snap", ROOT));
            assertErrno(Errno.ENOTEMPTY, () -> ops.deleteSubvolume(top, "sv", ROOT));
            assertErrno(Errno.EINVAL, () -> ops.deleteSubvolume(svRoot, "d", ROOT));
            assertErrno(Errno.EPERM, () -> ops.deleteSubvolume(top, "snap", new Caller(1000, 1000, new int[0])));
            assertErrno(Errno.EACCES, () -> ops.createSubvolume(top, "mine", new Caller(1000, 1000, new int[0])));
            assertErrno(Errno.EPERM, () -> ops.snapshot(sv, top, "mine", false, new Caller(1000, 1000, new int[0])));
            ops.setDefaultSubvolume(snap, ROOT);
            assertEquals(snap, ops.defaultSubvolume());
            assertErrno(Errno.EPERM, () -> ops.deleteSubvolume(top, "snap", ROOT));
            ops.setDefaultSubvolume(0, ROOT);
            assertEquals(ObjectIds.FS_TREE, ops.defaultSubvolume());

            // read-only flag: a writable snapshot made read-only and back
            ops.setSubvolumeReadOnly(snap, true, ROOT);
            assertTrue(ops.subvolumeReadOnly(snap));
            assertErrno(Errno.EROFS, () -> ops.mknod(ops.resolve("/snap"), "no", Stat.S_IFREG | 0644, 0, 0, 0));
            ops.setSubvolumeReadOnly(snap, false, ROOT);
            assertFalse(ops.subvolumeReadOnly(snap));
            assertTrue(ops.subvolumeReadOnly(ro));

            // a throwaway snapshot deleted: entry gone at once, tree dropped by the cleaner
            long gone = ops.snapshot(snap, top, "gone", false, ROOT);
            ops.write(ops.resolve("/gone/big"), 0, ByteBuffer.wrap(new byte[70_000]));
            ops.deleteSubvolume(top, "gone", ROOT);
            assertErrno(Errno.ENOENT, () -> ops.lookup(top, "gone"));
            assertErrno(Errno.ENOENT, () -> ops.subvolumeInfo(gone));
            ((WritableOperations) ops).awaitCleaner();

            SubvolumeInfo si = ops.subvolumeInfo(snap);
            assertArrayEquals(ops.subvolumeInfo(sv).uuid(), si.parentUuid());
            assertEquals("snap", si.name());
            assertEquals(ObjectIds.FS_TREE, si.parentId());
            assertEquals(ObjectIds.FIRST_FREE_DIR, si.dirId());
            assertEquals(sv, ops.subvolumeInfo(inner).parentId());
            for (var e : Map.of("sv", sv, "snap", snap, "ro", ro, "sv/inner", inner, "topsnap", topsnap).entrySet()) {
                ours.put(e.getKey(), ops.subvolumeInfo(e.getValue()));
            }
            files = TreeListing.ofOperations(ops);
            // the read-only snapshot holds the source as it was when it was taken, whatever changed since
            assertEquals(atSnapshot, subtree(files, "/ro"));
            assertNotEquals(atSnapshot, subtree(files, "/sv"));
        }
        BtrfsCheck.assertCleanWithData(image, "after our subvolume operations");
        assertEquals(List.of(), TreeListing.differences(files, TreeListing.ofKernelMount(image, dir, ""), 10));
        Images.withKernelMount(image, mnt, "", () -> {
            assertKernelAgrees(mnt, ours);
            assertEquals("ro=true", Shell.sh("btrfs property get -ts " + mnt.resolve("ro") + " ro").trim());
            assertEquals("ro=false", Shell.sh("btrfs property get -ts " + mnt.resolve("snap") + " ro").trim());
            // the kernel snapshots ours and deletes one of ours; its cleaner may leave the drop to us
            Shell.sh("btrfs -q subvolume snapshot snap ksnap && echo kernel > ksnap/k && "
                    + "btrfs -q subvolume delete ro && sync", mnt);
            return null;
        });
        BtrfsCheck.assertClean(image, "after the kernel");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            ((WritableOperations) ops).awaitCleaner();
            InodeId top = ops.root();
            long ksnap = ops.lookup(top, "ksnap").root();
            long again = ops.snapshot(ksnap, top, "again", true, ROOT);
            byte[] k = new byte[7];
            assertEquals(7, ops.read(ops.resolve("/again/k"), 0, ByteBuffer.wrap(k)));
            assertEquals("kernel\n", new String(k, StandardCharsets.UTF_8));
            ops.deleteSubvolume(top, "snap", ROOT);
            ((WritableOperations) ops).awaitCleaner();
            assertEquals(List.of("again", "ksnap", "sv", "sv/inner", "topsnap"), fs.info().subvolumes().stream()
                    .map(FsInfo.SubvolumeSummary::path).sorted().toList());
            assertTrue(ops.subvolumeReadOnly(again));
            files = TreeListing.ofOperations(ops);
        }
        BtrfsCheck.assertCleanWithData(image, "after our second mount");
        assertEquals(List.of(), TreeListing.differences(files, TreeListing.ofKernelMount(image, dir, ""), 10));
        // no dead root is left: the kernel's drop and ours both finished
        String roots = Shell.sh("btrfs inspect-internal dump-tree -t root " + image);
        assertFalse(roots.contains("ORPHAN ORPHAN_ITEM"), roots);
    }

    @Test
    void receivedSubvolumeMadeWritable_forgetsWhereItCameFrom_kernelAgrees() throws Exception {
        Images.requireKernelBtrfs();
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path stream = dir.resolve("stream");
        Images.kernelScript(image, mnt, "btrfs -q subvolume create src && echo data > src/f && "
                + "btrfs -q subvolume snapshot -r src src-ro && mkdir recv && btrfs -q send -f " + stream
                + " src-ro && btrfs -q receive -f " + stream + " recv && sync");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId received = ops.resolve("/recv/src-ro");
            long id = received.root();
            SubvolumeInfo before = ops.subvolumeInfo(id);
            assertTrue(before.readOnly());
            assertFalse(UuidTree.isEmpty(before.receivedUuid()));
            assertNotEquals(0, before.stransid());
            assertErrno(Errno.EROFS, () -> ops.mknod(received, "new", Stat.S_IFREG | 0644, 0, 0, 0));
            ops.setSubvolumeReadOnly(id, false, ROOT);
            SubvolumeInfo after = ops.subvolumeInfo(id);
            assertFalse(after.readOnly());
            assertTrue(UuidTree.isEmpty(after.receivedUuid()));
            assertEquals(0, after.stransid());
            assertEquals(0, after.rtransid());
            assertArrayEquals(before.uuid(), after.uuid());
            ops.mknod(received, "new", Stat.S_IFREG | 0644, 0, 0, 0);
        }
        BtrfsCheck.assertClean(image, "after making the received subvolume writable");
        String show = Images.withKernelMount(image, mnt, "", () -> Shell.sh("btrfs subvolume show "
                + mnt.resolve("recv/src-ro")));
        assertTrue(show.matches("(?s).*Received UUID:\\s+-\\n.*"), show);
        assertTrue(show.matches("(?s).*Flags:\\s+-\\n.*"), show);
        String uuids = Shell.sh("btrfs inspect-internal dump-tree -t uuid " + image);
        assertFalse(uuids.contains("RECEIVED_SUBVOL"), uuids);
    }

    @Test
    void kernelHalfDroppedSubvolume_ourMountFinishesTheDrop_checkClean() throws Exception {
        Images.requireKernelBtrfs();
        // a subvolume of a few thousand tree blocks, snapshotted and changed on both sides, then deleted
        Path made = Images.mkfs(dir, null, 512, "-n", "4096");
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Images.kernelScript(made, mnt, "btrfs -q subvolume create big && mkdir big/d && "
                + "for i in $(seq 1 20000); do echo $i > big/d/f$i; done && btrfs -q subvolume snapshot big snap && "
                + "rm big/d/f1?? snap/d/f2?? && echo new > big/d/new && sync && btrfs -q subvolume delete big");
        // the kernel's cleaner starts the drop about a commit interval after mount and takes some tens of ms; an
        // unmount in the middle leaves it half done (btrfs_drop_snapshot stops when the filesystem closes). The wait
        // before the unmount is found by bisection: before the drop began, or after it ended, tells which way to go.
        Path image = dir.resolve("half.img");
        String progress = "";
        double begun = 0, ended = 4.0;
        for (int attempt = 0; attempt < 14 && !progress.matches("(?s).*drop_progress key \\(\\d*[1-9].*"); attempt++) {
            double wait = (begun + ended) / 2;
            Shell.sh("cp --sparse=always " + made + " " + image + " && mount -o loop,commit=1 " + image + " " + mnt
                    + " && sleep " + String.format(Locale.ROOT, "%.4f", wait) + " && umount " + mnt);
            progress = Shell.sh("btrfs inspect-internal dump-tree -t root " + image + " | grep -A3 '(256 ROOT_ITEM' || true");
            if (progress.isBlank()) {
                ended = wait;
            } else if (!progress.matches("(?s).*drop_progress key \\(\\d*[1-9].*")) {
                begun = wait;
            }
        }
        Prereq.require(progress.matches("(?s).*drop_progress key \\(\\d*[1-9].*"),
                "the kernel's cleaner finished or never began the drop before each of 14 unmounts: " + progress);
        BtrfsCheck.assertClean(image, "the kernel's half-dropped subvolume");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            ((WritableOperations) ops).awaitCleaner();
            assertErrno(Errno.ENOENT, () -> ops.subvolumeInfo(256));
            byte[] b = new byte[6];
            assertEquals(5, ops.read(ops.resolve("/snap/d/f1234"), 0, ByteBuffer.wrap(b)));
            assertEquals("1234\n", new String(b, 0, 5, StandardCharsets.UTF_8));
            assertErrno(Errno.ENOENT, () -> ops.resolve("/snap/d/f234"));
        }
        BtrfsCheck.assertClean(image, "after our mount finished the drop");
        String roots = Shell.sh("btrfs inspect-internal dump-tree -t root " + image);
        assertFalse(roots.contains("ORPHAN ORPHAN_ITEM") || roots.contains("(256 ROOT_ITEM"), roots);
    }

    /** `btrfs subvolume list -a -u -q -R` and `btrfs subvolume show` on the kernel's mount say what we said. */
    private static void assertKernelAgrees(Path mnt, Map<String, SubvolumeInfo> ours) throws Exception {
        String list = Shell.sh("btrfs subvolume list -a -u -q -R " + mnt);
        Map<String, Matcher> byPath = new HashMap<>();
        for (String line : list.split("\n")) {
            Matcher m = LIST_LINE.matcher(line);
            if (m.find()) byPath.put(m.group(7).replaceFirst("^<FS_TREE>/", ""), m);
        }
        assertEquals(ours.keySet(), byPath.keySet(), list);
        for (var e : ours.entrySet()) {
            SubvolumeInfo s = e.getValue();
            Matcher m = byPath.get(e.getKey());
            assertEquals(s.treeId(), Long.parseLong(m.group(1)), e.getKey());
            assertEquals(s.generation(), Long.parseLong(m.group(2)), e.getKey());
            assertEquals(s.parentId(), Long.parseLong(m.group(3)), e.getKey());
            assertEquals(uuidOrDash(s.parentUuid()), m.group(4), e.getKey());
            assertEquals(uuidOrDash(s.receivedUuid()), m.group(5), e.getKey());
            assertEquals(Uuids.format(s.uuid()), m.group(6), e.getKey());
            String show = Shell.sh("btrfs subvolume show " + mnt.resolve(e.getKey()));
            assertTrue(show.contains("Subvolume ID: \t\t" + s.treeId()) || show.matches("(?s).*Subvolume ID:\\s+"
                    + s.treeId() + "\\n.*"), show);
            assertTrue(show.matches("(?s).*Gen at creation:\\s+" + s.otransid() + "\\n.*"), show);
            assertTrue(show.matches("(?s).*Flags:\\s+" + (s.readOnly() ? "readonly" : "-") + "\\n.*"), show);
            assertTrue(show.matches("(?s).*\\bUUID:\\s+" + Uuids.format(s.uuid()) + "\\n.*"), show);
        }
        assertNotEquals(ours.get("snap").uuid(), ours.get("ro").uuid());
    }

    /** The entries of {@code listing} under {@code prefix}, keyed by their path below it. */
    private static Map<String, String> subtree(Map<String, String> listing, String prefix) {
        Map<String, String> out = new TreeMap<>();
        listing.forEach((k, v) -> {
            if (k.equals(prefix) || k.startsWith(prefix + "/")) out.put(k.substring(prefix.length()), v);
        });
        return out;
    }

    private static String uuidOrDash(byte[] u) {
        return UuidTree.isEmpty(u) ? "-" : Uuids.format(u);
    }

    /** {@code count} small files in {@code dir}, named f0.. */
    static void fill(FsOperations ops, InodeId dir, int count, Random rnd) throws Exception {
        for (int i = 0; i < count; i++) {
            InodeId f = ops.mknod(dir, "f" + i, Stat.S_IFREG | 0644, 0, 0, 0);
            byte[] data = new byte[rnd.nextInt(3000)];
            rnd.nextBytes(data);
            ops.write(f, 0, ByteBuffer.wrap(data));
        }
    }
}
