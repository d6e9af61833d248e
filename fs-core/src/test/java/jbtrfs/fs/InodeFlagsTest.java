package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

import jbtrfs.InvalidArgumentException;
import jbtrfs.NotSupportedException;
import jbtrfs.format.InodeItem;

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
    void compressionFlags_excludeEachOtherAndNocow() throws Exception {
        assertEquals(InodeItem.FLAG_COMPRESS, InodeFlags.apply(InodeItem.FLAG_NOCOMPRESS, InodeFlags.FS_COMPR_FL,
                FILE, 10));
        assertEquals(InodeItem.FLAG_NOCOMPRESS, InodeFlags.apply(InodeItem.FLAG_COMPRESS, InodeFlags.FS_NOCOMP_FL,
                FILE, 10));
        assertEquals(0, InodeFlags.apply(InodeItem.FLAG_COMPRESS, 0, FILE, 10));
        assertThrows(InvalidArgumentException.class, () -> InodeFlags.apply(0,
                InodeFlags.FS_COMPR_FL | InodeFlags.FS_NOCOMP_FL, FILE, 0));
        assertThrows(InvalidArgumentException.class, () -> InodeFlags.apply(0,
                InodeFlags.FS_COMPR_FL | InodeFlags.FS_NOCOW_FL, DIR, 0));
    }

    @Test
    void plainAttributes_roundTrip_andWhatWeDoNotEnforce_isRefused() throws Exception {
        long fs = InodeFlags.FS_NODUMP_FL | InodeFlags.FS_NOATIME_FL | InodeFlags.FS_SYNC_FL | InodeFlags.FS_DIRSYNC_FL;
        long flags = InodeFlags.apply(InodeItem.FLAG_PREALLOC, fs, FILE, 10);
        assertEquals(fs, InodeFlags.toFsFlags(flags));
        assertEquals(InodeItem.FLAG_PREALLOC, flags & InodeItem.FLAG_PREALLOC, "flags chattr cannot see stay");
        assertThrows(NotSupportedException.class, () -> InodeFlags.apply(0, InodeFlags.FS_IMMUTABLE_FL, FILE, 0));
        assertThrows(NotSupportedException.class, () -> InodeFlags.apply(0, InodeFlags.FS_APPEND_FL, FILE, 0));
        // already set (by the kernel) and kept: not a change, not refused
        assertEquals(InodeFlags.IMMUTABLE, InodeFlags.apply(InodeFlags.IMMUTABLE, InodeFlags.FS_IMMUTABLE_FL, FILE, 0));
        assertEquals(0x8 | 0x80, InodeFlags.toXflags(InodeFlags.FS_IMMUTABLE_FL | InodeFlags.FS_NODUMP_FL));
    }
}
