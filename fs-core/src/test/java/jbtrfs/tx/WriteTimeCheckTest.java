package jbtrfs.tx;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.TransactionAbortedException;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * The write-time tree checker on a running filesystem: a dirty block damaged in memory before the commit is never
 * written; the commit aborts, nothing of the transaction reaches the device, the mount turns read-only, and the
 * image is still the last commit.
 */
class WriteTimeCheckTest {
    @TempDir
    Path dir;

    @Test
    void commitOfACorruptDirtyLeaf_writesNothingAndAborts() throws Exception {
        byte[] image = Files.readAllBytes(Images.mkfs(dir, null, 128));
        MemoryBlockDevice dev = PowerCuts.memoryDevice(image);
        long committed;
        Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0));
        FsOperations ops = fs.operations();
        ops.mkdir(ops.root(), "kept", 0755, 0, 0);
        ops.sync();
        TransactionManager txm = fs.transactions();
        committed = txm.generation();
        ops.mknod(ops.root(), "lost", Stat.S_IFREG | 0644, 0, 0, 0);
        Transaction tx = txm.running();
        // the new inode's item, in a leaf of the fs tree this transaction made: give it no file type
        long leaf = 0;
        int slot = -1;
        search:
        for (Map.Entry<Long, ByteBuffer> e : tx.dirtyBlocks().entrySet()) {
            ByteBuffer b = e.getValue();
            if (b.getLong(Header.OFFSET_OWNER) != ObjectIds.FS_TREE || b.get(Header.OFFSET_LEVEL) != 0) continue;
            for (int i = 0; i < b.getInt(Header.OFFSET_NRITEMS); i++) {
                int at = Header.SIZE + i * Item.SIZE;
                Key k = Key.read(b, at);
                if (k.type() == KeyType.INODE_ITEM && k.objectid() > ObjectIds.FIRST_FREE) {
                    b.putInt(Header.SIZE + b.getInt(at + Item.OFFSET_DATA_OFFSET) + 52, 0644);
                    leaf = e.getKey();
                    slot = i;
                    break search;
                }
            }
        }
        assertTrue(slot >= 0, "the transaction has a dirty fs tree leaf with the new inode");
        byte[] before = dev.snapshot();
        long requests = dev.requestsSubmitted();

        TransactionAbortedException e = assertThrows(TransactionAbortedException.class, ops::sync);
        assertTrue(e.getMessage().contains("corrupt tree block " + leaf + " (root 5, slot " + slot + ")")
                && e.getMessage().contains("inode mode is 0644, expected a file type"), e.getMessage());
        assertEquals(requests, dev.requestsSubmitted(), "no request of the failed commit went to the device");
        assertArrayEquals(before, dev.snapshot(), "the device is unchanged");
        assertTrue(fs.readOnly());
        assertNotNull(txm.abortReason());
        assertErrno(Errno.EROFS, () -> ops.mkdir(ops.root(), "later", 0755, 0, 0));
        // the unmount says what was lost
        assertThrows(TransactionAbortedException.class, fs::close);
        Path after = dir.resolve("after.img");
        Files.write(after, dev.snapshot());
        BtrfsCheck.assertClean(after, "after the refused commit");
        try (Filesystem reopened = Filesystem.open(after, MountOptions.readOnlyDefaults())) {
            assertEquals(committed, reopened.superBlock().generation(), "the image is at the last commit");
            InodeId root = reopened.operations().root();
            assertNotNull(reopened.operations().lookup(root, "kept"));
            assertErrno(Errno.ENOENT, () -> reopened.operations().lookup(root, "lost"));
        }
    }
}
