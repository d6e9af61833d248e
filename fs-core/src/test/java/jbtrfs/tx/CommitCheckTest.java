package jbtrfs.tx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.KeyType;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.MountOptions;
import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.TestImage;

/** The commit check of -Djbtrfs.verifyCommits (which the poms set for tests) stops a commit that would lie. */
class CommitCheckTest {
    @TempDir
    Path dir;

    /**
     * A data block group item that claims 4096 bytes used where no extent lies (what btrfs check reports as "block
     * group used ... extent items"): a commit that leaves the group alone would carry the lie on; the check refuses
     * it, the commit aborts and the image stays at its last generation.
     */
    @Test
    void blockGroupItemUsedUnlikeItsExtentItems_failsTheCommit_imageStaysAtTheLastCommit() throws Exception {
        Prereq.require(CommitCheck.ENABLED, "needs -Djbtrfs.verifyCommits=true (the poms set it)");
        try (TestImage img = TestImage.mkfs(dir.resolve("bg.img"))) {
            int nodesize = (int) img.superField("nodesize");
            TestImage.Item data = img.items("extent").stream()
                    .filter(i -> i.type().equals("BLOCK_GROUP_ITEM") && i.bodyText().contains("DATA")).findFirst()
                    .orElseThrow();
            assertTrue(data.bodyText().contains("used 0 "), data.bodyText());
            ImageDamage.patchTreeBlock(img.path(), data.leaf(), nodesize,
                    b -> b.putLong(Header.SIZE + data.itemoff(), 4096));
            long generation = img.superField("generation");
            Filesystem fs = Filesystem.open(img.path(), MountOptions.readWriteDefaults().withCommitSeconds(0));
            FsOperations ops = fs.operations();
            ops.mkdir(ops.root(), "d", 0755, 0, 0);
            FsException e = assertThrows(FsException.class, ops::sync);
            assertTrue(e.getMessage().contains("space accounting") && e.getMessage().contains(
                    "block group " + data.objectid() + ": its item says used 4096, its extent items hold 0"),
                    e.getMessage());
            assertThrows(TransactionAbortedException.class, fs::close);
            assertEquals(generation, img.superField("generation"));
        }
    }

    /**
     * The data group's free-space extent made a sector longer than the group (what btrfs check reports as free space
     * past the end of a block group): the next commit walks the free-space tree, the check refuses it.
     */
    @Test
    void freeSpaceExtentPastItsBlockGroup_failsTheCommit_imageStaysAtTheLastCommit() throws Exception {
        Prereq.require(CommitCheck.ENABLED, "needs -Djbtrfs.verifyCommits=true (the poms set it)");
        try (TestImage img = TestImage.mkfs(dir.resolve("fst.img"))) {
            int nodesize = (int) img.superField("nodesize");
            long dataGroup = Long.parseLong(img.items("extent").stream()
                    .filter(i -> i.type().equals("BLOCK_GROUP_ITEM") && i.bodyText().contains("DATA")).findFirst()
                    .orElseThrow().objectid());
            TestImage.Item free = img.items("10").stream()
                    .filter(i -> i.type().equals("FREE_SPACE_EXTENT") && Long.parseLong(i.objectid()) == dataGroup)
                    .findFirst().orElseThrow();
            long longer = free.offsetValue() + 4096;
            ImageDamage.patchTreeBlock(img.path(), free.leaf(), nodesize, b -> {
                for (int slot = 0; slot < b.getInt(Header.OFFSET_NRITEMS); slot++) {
                    int k = Header.SIZE + slot * Item.SIZE; // each item's key: objectid, type, offset
                    int type = Byte.toUnsignedInt(b.get(k + 8));
                    if (b.getLong(k) == dataGroup && type == KeyType.FREE_SPACE_EXTENT) {
                        b.putLong(k + 9, longer);
                    }
                }
            });
            long generation = img.superField("generation");
            Filesystem fs = Filesystem.open(img.path(), MountOptions.readWriteDefaults().withCommitSeconds(0));
            FsOperations ops = fs.operations();
            ops.mkdir(ops.root(), "d", 0755, 0, 0);
            FsException e = assertThrows(FsException.class, ops::sync);
            assertTrue(e.getMessage().contains("space accounting") && e.getMessage().contains(dataGroup
                    + " FREE_SPACE_EXTENT " + longer) && e.getMessage().contains("lies outside"), e.getMessage());
            assertThrows(TransactionAbortedException.class, fs::close);
            assertEquals(generation, img.superField("generation"));
        }
    }
}
