package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.NameHash;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/** Two names whose hashes collide share one DIR_ITEM; lookup must still tell them apart. */
class NameHashCollisionTest {
    /** Found by hashing "collide-N" for N from 0 until two hashes met (a birthday search, about 2M names). */
    private static final String A = "collide-1371838";
    private static final String B = "collide-2000402";

    @TempDir
    Path tmp;

    @Test
    void collidingNames_resolveToTheirOwnInodes() throws Exception {
        long hash = NameHash.of(A.getBytes(StandardCharsets.US_ASCII));
        assertEquals(hash, NameHash.of(B.getBytes(StandardCharsets.US_ASCII)), "the two names collide");
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve(A), "first");
        Files.writeString(src.resolve(B), "second, longer");
        Path image = Images.mkfs(tmp, src, 256);
        // btrfs-progs agrees: one DIR_ITEM at that hash holds both names
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString()));
        int at = dump.indexOf("DIR_ITEM " + hash + ")");
        assertTrue(at > 0, "a DIR_ITEM keyed by the shared hash");
        String item = dump.substring(at, dump.indexOf("item ", at + 10));
        assertTrue(item.contains("name: " + A) && item.contains("name: " + B), item);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            assertEquals("first", read(ops, ops.resolve("/" + A)));
            assertEquals("second, longer", read(ops, ops.resolve("/" + B)));
        }
    }

    /**
     * Our create of the second name appends it to the first one's DIR_ITEM (read once for the EEXIST check), as
     * mkfs laid out above; a create of either name again is EEXIST.
     */
    @Test
    void createOfACollidingName_joinsTheDirItem_andEitherNameAgainIsEexist() throws Exception {
        long hash = NameHash.of(A.getBytes(StandardCharsets.US_ASCII));
        Path image = Images.mkfs(tmp, null, 256);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId a = ops.mknod(ops.root(), A, Stat.S_IFREG | 0644, 0, 0, 0);
            InodeId b = ops.mknod(ops.root(), B, Stat.S_IFREG | 0644, 0, 0, 0);
            for (String name : List.of(A, B)) {
                FsException e = assertThrows(FsException.class,
                        () -> ops.mknod(ops.root(), name, Stat.S_IFREG | 0644, 0, 0, 0));
                assertEquals(Errno.EEXIST, e.errno());
            }
            assertEquals(a, ops.lookup(ops.root(), A));
            assertEquals(b, ops.lookup(ops.root(), B));
            ops.sync();
        }
        BtrfsCheck.assertClean(image, "two colliding names created");
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString()));
        int at = dump.indexOf("DIR_ITEM " + hash + ")");
        assertTrue(at > 0, "a DIR_ITEM keyed by the shared hash");
        String item = dump.substring(at, dump.indexOf("item ", at + 10));
        assertTrue(item.contains("name: " + A) && item.contains("name: " + B), item);
    }

    private static String read(FsOperations ops, InodeId id) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(100);
        int n = ops.read(id, 0, b);
        return new String(b.array(), 0, n, StandardCharsets.US_ASCII);
    }
}
