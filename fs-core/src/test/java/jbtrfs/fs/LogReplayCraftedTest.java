package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.format.DirItem;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.KeyType;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.CrashImages;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Logs the kernel 6.18 does not write, made from a kernel-made crash image by changing items of its log leaf (and
 * re-sealing the checksum): a logged name at a dir index another name holds, a name whose inode ref no longer fits
 * its leaf, and the DIR_ITEM / DIR_LOG_ITEM keys older kernels logged. Each is compared with what the kernel's own
 * mount of a copy does. Needs root, loop devices, btrfs and xfs_io (CrashImages.require skips saying why).
 */
class LogReplayCraftedTest {
    private static final int NODESIZE = 16384;
    private static final Pattern LEAF = Pattern.compile("(?m)^leaf (\\d+) items");

    @TempDir
    Path dir;

    @Test
    void loggedNameAtAnIndexOfAnotherName_keepsItAndRefusesTheReplayAsTheKernelDoes() throws Exception {
        Path crash = CrashImages.kernelCrashed(dir, 256, """
                mkdir d; printf old > d/old; printf other > d/other; sync
                printf n > d/new; xfs_io -c fsync d/new
                """);
        long otherIndex = committedIndex(crash, "other");
        // the logged ref of d/new claims the index d/other holds in the last commit
        editLogItems(crash, (b, item) -> {
            if (b.get(item + 8) == KeyType.INODE_REF && refName(b, item).equals("new")) {
                b.putLong(data(b, item), otherIndex);
            }
        });
        Path copy = dir.resolve("kernel.img");
        Shell.run(List.of("cp", "--sparse=always", crash.toString(), copy.toString()));
        Path mnt = Files.createTempDirectory(dir, "kernel");
        Shell.Result kernel = Shell.attempt(List.of("mount", "-o", "loop", copy.toString(), mnt.toString()));
        if (kernel.exitCode() == 0) Shell.run(List.of("umount", mnt.toString()));
        assertNotEquals(0, kernel.exitCode(), "the kernel's mount fails its replay (EEXIST): " + kernel.output());

        String before = TreeListing.sha256(crash);
        FsException e = assertThrows(FsException.class, () -> Filesystem.open(crash,
                MountOptions.readWriteDefaults().withCommitSeconds(0)));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals("cannot replay the log tree: the log names 'new' at dir index " + otherIndex + " of directory 257"
                + " of subvolume 5, where 'other' is", e.getMessage());
        assertEquals(before, TreeListing.sha256(crash), "the image changed");
        Map<String, String> lastCommit = CrashImages.kernelLastCommit(crash, dir);
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readOnlyDefaults())) {
            assertEquals(List.of(), TreeListing.differences(lastCommit, TreeListing.ofOperations(fs.operations()), 10),
                    "a read-only mount whose in-memory replay fails shows the last commit");
        }
        assertEquals(before, TreeListing.sha256(crash), "the image changed");
    }

    @Test
    void loggedNameWhoseRefOverflowsItsLeaf_goesToAnExtrefAsTheKernelDoes() throws Exception {
        // 76 names of 201 bytes fill the inode ref item of d/f to 16,047 bytes; one more of 221 does not fit
        String longName = "x".repeat(200);
        String added = "n".repeat(220);
        Path crash = CrashImages.kernelCrashed(dir, 256, "mkdir d; printf data > d/f\n"
                + "for i in $(seq 10 85); do ln d/f d/${i}" + longName + "; done; sync\n"
                + "ln d/f d/" + added + "; xfs_io -c fsync d\n");
        // the directory's logged name becomes one the inode's logged refs lack, at the next index: replay must add
        // its ref itself, and the ref item has no room for it
        long[] moved = new long[1];
        editLogItems(crash, (b, item) -> {
            if (b.get(item + 8) != KeyType.DIR_INDEX) return;
            // a leaf's first key is also in its parent node: this edit keeps to keys inside a leaf
            assertNotEquals(Header.SIZE, item, "the dir index is not the first item of its leaf");
            int name = data(b, item) + DirItem.SIZE_WITHOUT_NAME;
            b.put(name + added.length() - 1, (byte) 'm');
            moved[0] = b.getLong(item + 9) + 1;
            b.putLong(item + 9, moved[0]);
        });
        assertNotEquals(0, moved[0], "the log holds the directory's new name");
        Map<String, String> ours = replayAndCompare(crash);
        String ghost = added.substring(0, added.length() - 1) + "m";
        assertTrue(ours.containsKey("/d/" + ghost), "the name the directory's log added");
        long ino = ImageDamage.inodeOf(crash, "f");
        String extref = "key (" + ino + " INODE_EXTREF "
                + Long.toUnsignedString(NameHash.extref(257, ghost.getBytes(StandardCharsets.US_ASCII))) + ")";
        String tree = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", crash.toString()));
        assertTrue(tree.contains(extref), "the added name's ref went to an extref: " + extref);
    }

    @Test
    void oldKernelDirItemAndDirLogItemKeys_ignoredAsTheKernelDoes() throws Exception {
        Path crash = CrashImages.kernelCrashed(dir, 256, """
                mkdir d; for i in 1 2 3 4 5; do echo $i > d/f$i; done; sync
                rm d/f2 d/f4; echo 6 > d/f6; xfs_io -c fsync d
                """);
        int[] changed = new int[2];
        // what an older kernel's log held: DIR_LOG_ITEM ranges and DIR_ITEM keys (keyed by name hash)
        editLogItems(crash, (b, item) -> {
            if (b.get(item + 8) == KeyType.DIR_LOG_INDEX) {
                b.put(item + 8, (byte) KeyType.DIR_LOG_ITEM);
                changed[0]++;
            } else if (b.get(item + 8) == KeyType.DIR_INDEX) {
                int d = data(b, item);
                byte[] name = new byte[Short.toUnsignedInt(b.getShort(d + 27))];
                b.get(d + DirItem.SIZE_WITHOUT_NAME, name);
                b.put(item + 8, (byte) KeyType.DIR_ITEM);
                b.putLong(item + 9, NameHash.of(name));
                changed[1]++;
            }
        });
        assertEquals(List.of(1, 1), List.of(Integer.signum(changed[0]), Integer.signum(changed[1])),
                "ranges and names rewritten");
        Map<String, String> ours = replayAndCompare(crash);
        assertTrue(ours.containsKey("/d/f2"), "the kernel 6.18 ignores DIR_LOG_ITEM ranges: the removed names stay");
    }

    /** One item of a log leaf, given by the offset of its item header; it may change the leaf's bytes. */
    private interface ItemEdit {
        void apply(ByteBuffer leaf, int item);
    }

    /** Calls {@code edit} on every item of every leaf of the first log tree; the leaves are re-sealed. */
    private static void editLogItems(Path image, ItemEdit edit) throws Exception {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-b",
                Long.toString(CrashImages.firstLogTree(image)), "--follow", image.toString()));
        Matcher m = LEAF.matcher(dump);
        while (m.find()) {
            ImageDamage.patchTreeBlock(image, Long.parseLong(m.group(1)), NODESIZE, b -> {
                int n = b.getInt(Header.OFFSET_NRITEMS);
                for (int slot = 0; slot < n; slot++) edit.apply(b, Header.SIZE + slot * Item.SIZE);
            });
        }
    }

    private static int data(ByteBuffer b, int item) {
        return Header.SIZE + b.getInt(item + Item.OFFSET_DATA_OFFSET);
    }

    /** The first name of an INODE_REF item (index u64, name_len u16, name). */
    private static String refName(ByteBuffer b, int item) {
        int d = data(b, item);
        byte[] name = new byte[Short.toUnsignedInt(b.getShort(d + 8))];
        b.get(d + 10, name);
        return new String(name, StandardCharsets.UTF_8);
    }

    /** The dir index of {@code name} in the last commit's top-level tree, as dump-tree shows its inode ref. */
    private static long committedIndex(Path image, String name) throws Exception {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString()));
        Matcher m = Pattern.compile("INODE_REF \\d+\\) itemoff \\d+ itemsize \\d+\\s+index (\\d+) namelen \\d+ name: "
                + Pattern.quote(name) + "\\n").matcher(dump);
        assertTrue(m.find(), "no inode ref of " + name);
        return Long.parseLong(m.group(1));
    }

    /**
     * The kernel's replay of a copy and our read-write replay agree on every path, attribute and byte; then btrfs
     * check is clean and log_root 0. Returns our view.
     */
    private Map<String, String> replayAndCompare(Path crash) throws Exception {
        Map<String, String> kernel = CrashImages.kernelReplayed(crash, dir);
        Map<String, String> ours;
        try (Filesystem fs = Filesystem.open(crash, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            ours = TreeListing.ofOperations(fs.operations());
        }
        assertEquals(List.of(), TreeListing.differences(kernel, ours, 10));
        BtrfsCheck.assertCleanWithData(crash, "after our replay");
        assertEquals(0, CrashImages.logRoot(crash), "log_root after our replay's commit");
        return ours;
    }
}
