package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.CorruptBlockException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.Cursor;
import jbtrfs.ctree.TreeRoot;
import jbtrfs.format.DirItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.tx.Transaction;

/**
 * A directory holding one name twice (as btrfs-progs' fsck-tests/067-dupe-filename: two inodes, each with its own
 * dir item, dir index and inode ref, all named foo), made here by renaming a second file's items by hand: unlink
 * removes the one name lookup finds, as the kernel's does on the same image; names missing their inode ref or
 * their inode are refused as corrupt, nothing changed, and the rest of the directory keeps working.
 */
class DuplicateNameTest {
    private static final byte[] FOO = "foo".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    @Test
    void unlinkOfADuplicateName_removesTheOneLookupFinds_likeTheKernel() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        long first;
        long second;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            first = ops.mknod(ops.root(), "foo", Stat.S_IFREG | 0644, 0, 0, 0).objectid();
            second = ops.mknod(ops.root(), "bar", Stat.S_IFREG | 0644, 0, 0, 0).objectid();
            ops.mknod(ops.root(), "other", Stat.S_IFREG | 0644, 0, 0, 0);
            renameItemsByHand(fs, ops.root(), "bar", second, FOO, false);
            ops.sync();
        }
        List<String> before = checkProblems(image);
        Path kernelCopy = Files.copy(image, dir.resolve("kernel.img"), StandardCopyOption.REPLACE_EXISTING);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            assertEquals(List.of("foo " + first, "foo " + second, "other " + (second + 1)), names(ops));
            assertEquals(first, ops.lookup(ops.root(), "foo").objectid());
            ops.unlink(ops.root(), "foo");
            assertEquals(List.of("foo " + second, "other " + (second + 1)), names(ops));
            assertEquals(second, ops.lookup(ops.root(), "foo").objectid());
        }
        List<String> ours = checkProblems(image);
        assertEquals(List.of(), ours, "btrfs check after our unlink");

        Images.requireKernelBtrfs();
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Shell.sh("mount -o loop " + kernelCopy + " " + mnt + " && rm " + mnt + "/foo; umount " + mnt);
        assertEquals(checkProblems(kernelCopy), ours, "btrfs check: the kernel's unlink, then ours (before: "
                + before + ")");
        try (Filesystem fs = Filesystem.open(kernelCopy, MountOptions.readOnlyDefaults())) {
            assertEquals(List.of("foo " + second, "other " + (second + 1)), names(fs.operations()));
        }
    }

    @Test
    void namesMissingTheirInodeRefOrInode_areRefusedAsCorrupt_andTheRestKeepsWorking() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        long bar;
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            ops.mknod(ops.root(), "foo", Stat.S_IFREG | 0644, 0, 0, 0);
            bar = ops.mknod(ops.root(), "bar", Stat.S_IFREG | 0644, 0, 0, 0).objectid();
            ops.mknod(ops.root(), "kept", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.mknod(ops.root(), "other", Stat.S_IFREG | 0644, 0, 0, 0);
            long lost = ops.mknod(ops.root(), "lost", Stat.S_IFREG | 0644, 0, 0, 0).objectid();
            // bar's dir items say foo and its inode ref is gone: lookup finds it, nothing names it back
            renameItemsByHand(fs, ops.root(), "bar", bar, FOO, true);
            // lost's inode item is gone: its name points at nothing
            Transaction t = fs.transactions().current();
            t.editor().delete(t.root(ops.root().root()), new Key(lost, KeyType.INODE_ITEM, 0));
            ops.sync();
        }
        List<String> before = checkProblems(image);
        assertFalse(before.isEmpty(), "the damage shows in btrfs check");
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            // the first foo is whole and goes; the second is refused whichever way it is changed
            ops.unlink(root, "foo");
            assertThrows(CorruptBlockException.class, () -> ops.unlink(root, "foo"));
            assertThrows(CorruptBlockException.class, () -> ops.rename(root, "foo", root, "moved", 0));
            assertThrows(CorruptBlockException.class, () -> ops.rename(root, "kept", root, "foo", 0));
            assertThrows(CorruptBlockException.class, () -> ops.unlink(root, "lost"));
            assertThrows(CorruptBlockException.class, () -> ops.rename(root, "lost", root, "found", 0));
            assertThrows(CorruptBlockException.class, () -> ops.rename(root, "kept", root, "lost", 0));
            assertFalse(ops.readOnly(), "a refusal changes nothing and aborts nothing");
            ops.rename(root, "other", root, "renamed", 0);
            ops.unlink(root, "kept");
            ops.mknod(root, "new", Stat.S_IFREG | 0644, 0, 0, 0);
            assertEquals(List.of("foo " + bar, "lost " + (bar + 3), "renamed " + (bar + 2), "new " + (bar + 4)),
                    names(ops));
        }
        assertEquals(before, checkProblems(image), "btrfs check after the changes: no worse");
    }

    /**
     * Gives file {@code ino}'s name {@code from} in {@code dir} the name {@code to} in all its items, by hand:
     * its dir item joins {@code to}'s, its dir index and (unless {@code dropRef}) its inode ref say {@code to}.
     */
    private static void renameItemsByHand(Filesystem fs, InodeId dir, String from, long ino, byte[] to,
                                          boolean dropRef) throws Exception {
        byte[] old = from.getBytes(StandardCharsets.UTF_8);
        Transaction t = fs.transactions().current();
        TreeRoot root = t.root(dir.root());
        Key oldItem = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(old));
        DirItem entry = Subvolumes.readDirItems(t.tree(dir.root()).find(oldItem)).get(0);
        DirItem renamed = new DirItem(entry.location(), entry.transid(), entry.type(), to, entry.data());
        t.editor().delete(root, oldItem);
        Key newItem = new Key(dir.objectid(), KeyType.DIR_ITEM, NameHash.of(to));
        List<DirItem> items = new ArrayList<>(Subvolumes.readDirItems(t.tree(dir.root()).find(newItem)));
        items.add(renamed);
        t.editor().put(root, newItem, DirItem.encodeAll(items));
        Key refKey = new Key(ino, KeyType.INODE_REF, dir.objectid());
        Cursor ref = t.tree(dir.root()).find(refKey);
        long index = InodeRef.readAll(ref.buffer(), ref.dataOffset(), ref.dataSize()).get(0).index();
        t.editor().put(root, new Key(dir.objectid(), KeyType.DIR_INDEX, index), renamed.encode());
        if (dropRef) t.editor().delete(root, refKey);
        else t.editor().put(root, refKey, InodeRef.encodeAll(List.of(new InodeRef(index, to))));
        // the directory's size counts each name's length twice: from and to are the same length here
        assertEquals(old.length, to.length);
    }

    private static List<String> names(FsOperations ops) throws Exception {
        List<String> out = new ArrayList<>();
        for (DirEntry e : ops.readdir(ops.root(), 0, 100)) out.add(e.name() + " " + e.id().objectid());
        return out;
    }

    /** The lines where btrfs check reports a problem (none on a clean image). */
    private static List<String> checkProblems(Path image) throws Exception {
        List<String> out = new ArrayList<>();
        String report = Shell.attempt(List.of("btrfs", "check", "--readonly", image.toString())).output();
        for (String line : report.split("\n")) {
            if (line.contains("no error found")) continue;
            if (line.matches("(?i).*(error|wrong|mismatch|unresolved|missing|dupl).*")) out.add(line.trim());
        }
        return out;
    }
}
