package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import jbtrfs.format.Timespec;
import jbtrfs.fs.Stat;
import jnr.ffi.Memory;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import ru.serce.jnrfuse.struct.FileStat;

class StatFillerTest {

    private static FileStat nativeStat() {
        Runtime rt = Runtime.getSystemRuntime();
        return FileStat.of(Memory.allocateDirect(rt, Struct.size(new FileStat(rt)), true));
    }

    @Test
    void everyField_reachesTheNativeStatWithNanoseconds() {
        // a block device 8:17 in new_encode_dev form, large inode and size, distinct nanoseconds per time
        Stat s = new Stat(1L << 40, Stat.S_IFBLK | 0640, 3, 1000, 2000, (8 << 8) | 17, 5_000_000_000L, 9_765_632,
                new Timespec(1_600_000_001L, 111_111_111), new Timespec(1_600_000_002L, 222_222_222),
                new Timespec(1_600_000_003L, 999_999_999), new Timespec(1_600_000_004L, 0), 1, 0);
        FileStat st = nativeStat();
        StatFiller.fill(s, st, 4096);
        assertEquals(1L << 40, st.st_ino.longValue());
        assertEquals(Stat.S_IFBLK | 0640, st.st_mode.intValue());
        assertEquals(3, st.st_nlink.longValue());
        assertEquals(1000, st.st_uid.longValue());
        assertEquals(2000, st.st_gid.longValue());
        assertEquals((8 << 8) | 17, st.st_rdev.longValue());
        assertEquals(5_000_000_000L, st.st_size.longValue());
        assertEquals(9_765_632, st.st_blocks.longValue());
        assertEquals(4096, st.st_blksize.longValue());
        assertEquals(1_600_000_001L, st.st_atim.tv_sec.longValue());
        assertEquals(111_111_111, st.st_atim.tv_nsec.longValue());
        assertEquals(1_600_000_002L, st.st_mtim.tv_sec.longValue());
        assertEquals(222_222_222, st.st_mtim.tv_nsec.longValue());
        assertEquals(1_600_000_003L, st.st_ctim.tv_sec.longValue());
        assertEquals(999_999_999, st.st_ctim.tv_nsec.longValue());
    }

    @Test
    void timesBeforeTheEpoch_keepTheirSign() {
        Timespec old = new Timespec(-86_400L, 500_000_000);
        Stat s = new Stat(257, Stat.S_IFREG | 0644, 1, 0, 0, 0, 0, 0, old, old, old, old, 1, 0);
        FileStat st = nativeStat();
        StatFiller.fill(s, st, 4096);
        assertEquals(-86_400L, st.st_mtim.tv_sec.longValue());
        assertEquals(500_000_000, st.st_mtim.tv_nsec.longValue());
    }
}
