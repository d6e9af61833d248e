package jbtrfs.fs;

import static jbtrfs.testing.FsAssertions.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.Errno;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Timespec;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;

/** chattr's rules as btrfs_check_fsflags and btrfs_fileattr_set apply them; the kernel parity is in integration-tests. */
class InodeFlagsTest {
    private static final int FILE = Stat.S_IFREG | 0644;
    private static final int DIR = Stat.S_IFDIR | 0755;

    @Test
    void nocow_onAnEmptyFileOrADirectory_notOnAFileWithData() throws Exception {
        assertEquals(InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM,
                InodeFlags.apply(0, InodeFlags.FS_NOCOW_FL, FILE, 0));
        assertEquals(0, InodeFlags.apply(0, InodeFlags.FS_NOCOW_FL, FILE, 5));
        assertEquals(InodeItem.FLAG_NODATACOW, InodeFlags.apply(0, InodeFlags.FS_NOCOW_FL, DIR, 4096));
        assertEquals(0, InodeFlags.apply(InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM, 0, FILE, 0));
        // a file with data keeps nodatacow too: the flag tells the truth about its extents
        long nocow = InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM;
        assertEquals(nocow, InodeFlags.apply(nocow, 0, FILE, 10));
    }

    @Test
    void fsxattrFlags_setTheCommonOnes_keepTheRest_andRefuseWhatBtrfsLacks() throws Exception {
        long old = InodeFlags.FS_NOCOW_FL | InodeFlags.FS_NODUMP_FL;
        // noatime and sync asked, nodump not: nocow, which fsxattr cannot say, stays
        assertEquals(InodeFlags.FS_NOCOW_FL | InodeFlags.FS_NOATIME_FL | InodeFlags.FS_SYNC_FL,
                InodeFlags.fromXflags(old, 0x40 | 0x20, 0, 0, 0));
        assertEquals(0x80 | 0x8, InodeFlags.toXflags(InodeFlags.fromXflags(0, 0x80 | 0x8, 0, 0, 0)));
        assertErrno(Errno.EOPNOTSUPP, () -> InodeFlags.fromXflags(old, 0x1, 0, 0, 0));   // realtime
        assertErrno(Errno.EOPNOTSUPP, () -> InodeFlags.fromXflags(old, 0x8000, 0, 0, 0));  // dax
        assertErrno(Errno.EOPNOTSUPP, () -> InodeFlags.fromXflags(old, 0, 0, 5, 0));  // a project id
        assertErrno(Errno.EOPNOTSUPP, () -> InodeFlags.fromXflags(old, 0, 4096, 0, 0));
    }

    @Test
    void compressionFlags_excludeEachOtherAndNocow() throws Exception {
        assertEquals(InodeItem.FLAG_COMPRESS, InodeFlags.apply(InodeItem.FLAG_NOCOMPRESS, InodeFlags.FS_COMPR_FL,
                FILE, 10));
        assertEquals(InodeItem.FLAG_NOCOMPRESS, InodeFlags.apply(InodeItem.FLAG_COMPRESS, InodeFlags.FS_NOCOMP_FL,
                FILE, 10));
        assertEquals(0, InodeFlags.apply(InodeItem.FLAG_COMPRESS, 0, FILE, 10));
        assertErrno(Errno.EINVAL, () -> InodeFlags.apply(0,
                InodeFlags.FS_COMPR_FL | InodeFlags.FS_NOCOMP_FL, FILE, 0));
        assertErrno(Errno.EINVAL, () -> InodeFlags.apply(0,
                InodeFlags.FS_COMPR_FL | InodeFlags.FS_NOCOW_FL, DIR, 0));
    }

    @Test
    void plainAttributes_roundTrip_andWhatWeDoNotEnforce_isRefused() throws Exception {
        long fs = InodeFlags.FS_NODUMP_FL | InodeFlags.FS_NOATIME_FL | InodeFlags.FS_SYNC_FL | InodeFlags.FS_DIRSYNC_FL;
        long flags = InodeFlags.apply(InodeItem.FLAG_PREALLOC, fs, FILE, 10);
        assertEquals(fs, InodeFlags.toFsFlags(flags));
        assertEquals(InodeItem.FLAG_PREALLOC, flags & InodeItem.FLAG_PREALLOC, "flags chattr cannot see stay");
        // FS_SECRM_FL, FS_UNRM_FL: btrfs has no such thing
        assertErrno(Errno.EOPNOTSUPP, () -> InodeFlags.apply(0, 0x1, FILE, 0));
        assertErrno(Errno.EOPNOTSUPP, () -> InodeFlags.apply(0, 0x2, FILE, 0));
        assertEquals(InodeFlags.IMMUTABLE | InodeFlags.APPEND,
                InodeFlags.apply(0, InodeFlags.FS_IMMUTABLE_FL | InodeFlags.FS_APPEND_FL, FILE, 0));
        assertEquals(0x8 | 0x80, InodeFlags.toXflags(InodeFlags.FS_IMMUTABLE_FL | InodeFlags.FS_NODUMP_FL));
    }

    @TempDir
    Path dir;

    @Test
    void immutableAndAppendOnly_refuseWhatTheVfsRefuses_untilCleared() throws Exception {
        Path image = Images.mkfs(dir, null, 256);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            InodeId imm = ops.mknod(root, "imm", FILE, 0, 0, 0);
            ops.write(imm, 0, ByteBuffer.wrap(new byte[5000]));
            InodeId app = ops.mknod(root, "app", FILE, 0, 0, 0);
            ops.write(app, 0, ByteBuffer.wrap(new byte[5000]));
            InodeId d = ops.mkdir(root, "d", 0755, 0, 0);
            ops.mknod(d, "inside", FILE, 0, 0, 0);
            ops.chmod(imm, 04755);
            ops.chmod(app, 04755);
            ops.setFileFlags(imm, InodeFlags.FS_IMMUTABLE_FL);
            ops.setFileFlags(app, InodeFlags.FS_APPEND_FL);
            ops.setFileFlags(d, InodeFlags.FS_IMMUTABLE_FL);
            for (InodeId f : new InodeId[] {imm, app}) {
                assertErrno(Errno.EPERM, () -> ops.truncate(f, 0));
                assertErrno(Errno.EPERM, () -> ops.write(f, 0, ByteBuffer.wrap(new byte[1])));
                assertErrno(Errno.EPERM, () -> ops.chmod(f, 0600));
                assertErrno(Errno.EPERM, () -> ops.chown(f, 1, 1));
                assertErrno(Errno.EPERM, () -> ops.setXattr(f, "user.x", new byte[1], 0));
                assertErrno(Errno.EPERM, () -> ops.link(f, root, "another"));
                assertErrno(Errno.EPERM, () -> ops.fallocate(f, 0, 0, 8192));
                // chown(f, -1, -1) names no owner: notify_change lets it clear set-ID bits there
                ops.chown(f, -1, -1, 04000, null);
                assertEquals(0755, ops.stat(f).mode() & 07777);
            }
            assertErrno(Errno.EPERM, () -> ops.unlink(root, "imm"));
            assertErrno(Errno.EPERM, () -> ops.rename(root, "app", root, "moved", 0));
            // append-only takes appends, KEEP_SIZE preallocation and a touch; immutable takes nothing
            ops.write(app, 5000, ByteBuffer.wrap(new byte[100]));
            ops.utimens(app, Timespec.NOW, Timespec.NOW);
            assertErrno(Errno.EPERM, () -> ops.utimens(app, null, new Timespec(5, 0)));
            assertErrno(Errno.EPERM, () -> ops.utimens(imm, Timespec.NOW, Timespec.NOW));
            ops.fallocate(app, FsOperations.FALLOC_FL_KEEP_SIZE, 0, 16384);
            assertErrno(Errno.EPERM, () -> ops.write(imm, 5000, ByteBuffer.wrap(new byte[1])));
            // an immutable directory: no new names, no removed ones; its files still change
            assertErrno(Errno.EPERM, () -> ops.mknod(d, "new", FILE, 0, 0, 0));
            assertErrno(Errno.EPERM, () -> ops.unlink(d, "inside"));
            assertErrno(Errno.EPERM, () -> ops.rename(root, "app", d, "app", 0));
            ops.write(ops.lookup(d, "inside"), 0, ByteBuffer.wrap(new byte[10]));
            // cleared, everything goes again
            ops.setFileFlags(imm, 0);
            ops.setFileFlags(app, 0);
            ops.setFileFlags(d, 0);
            ops.truncate(imm, 0);
            ops.unlink(root, "imm");
            ops.rename(root, "app", d, "app", 0);
            ops.unlink(d, "inside");
        }
        BtrfsCheck.assertCleanWithData(image, "after immutable and append-only");
    }
}
