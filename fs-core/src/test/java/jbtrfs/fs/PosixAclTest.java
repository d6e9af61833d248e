package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.testing.Images;

/**
 * ACL values that are not the kernel's posix_acl_xattr reach the caller as EINVAL and change nothing, and a default
 * ACL is for directories only (EACCES). What ACLs do to modes is compared with the kernel's Btrfs through a mount
 * (FstestsFindingsThroughMountTest#posixAcls_areInheritedAndKeptWithTheModeLikeTheKernels).
 */
class PosixAclTest {
    @TempDir
    Path dir;

    @Test
    void malformedOrMisplacedAcl_isRefusedAndChangesNothing() throws Exception {
        Images.requireMkfs();
        Path image = Images.mkfs(dir, null, 128);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0640, 0, 0, 0);
            byte[] truncated = {2, 0, 0, 0, 1, 0, 7};
            byte[] badVersion = {1, 0, 0, 0, 1, 0, 7, 0, -1, -1, -1, -1};
            byte[] badTag = {2, 0, 0, 0, 0x40, 0, 7, 0, -1, -1, -1, -1};
            for (byte[] v : new byte[][] {truncated, badVersion, badTag}) {
                FsException e = assertThrows(FsException.class, () -> ops.setXattr(f, PosixAcl.ACCESS, v, 0));
                assertEquals(Errno.EINVAL, e.errno());
            }
            byte[] ownerOnly = {2, 0, 0, 0, 1, 0, 7, 0, -1, -1, -1, -1, 4, 0, 0, 0, -1, -1, -1, -1,
                    0x20, 0, 0, 0, -1, -1, -1, -1};
            FsException e = assertThrows(FsException.class, () -> ops.setXattr(f, PosixAcl.DEFAULT, ownerOnly, 0));
            assertEquals(Errno.EACCES, e.errno());
            assertEquals(Stat.S_IFREG | 0640, ops.stat(f).mode());
            assertEquals(0, ops.listXattr(f).size());
            // the same value as an access ACL is the mode 0700 in full: the mode takes it, no xattr is kept
            ops.setXattr(f, PosixAcl.ACCESS, ownerOnly, 0);
            assertEquals(Stat.S_IFREG | 0700, ops.stat(f).mode());
            assertEquals(0, ops.listXattr(f).size());
            assertArrayEquals(ownerOnly, PosixAcl.parse(ownerOnly).encode());
        }
    }
}
