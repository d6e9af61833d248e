package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.util.List;

import org.junit.jupiter.api.Test;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.fs.SpaceInfo;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** btrfs filesystem df's layout: sizes as btrfs-progs' pretty_size prints them, printf's rounding included. */
class FilesystemCommandTest {
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    @Test
    void prettySize_isPrintfOfTheValueInItsLargestUnit() throws Exception {
        Prereq.requireBinary("printf", "coreutils");
        // ties (1.125, 2.375, 0.5 KiB steps) are where a rounding unlike printf's would show
        long[] sizes = {0, 1, 1023, 1024, 1536, 16384, 196608, 1179648, 2490368, 5767168, 8388608, 1288490189L,
            3L << 40, 1L << 60};
        for (long size : sizes) {
            int unit = 0;
            while (unit < 6 && size >= 1L << (10 * (unit + 1))) unit++;
            BigDecimal exact = new BigDecimal(size).divide(new BigDecimal(1L << (10 * unit)));
            String expected = Shell.run(List.of("printf", "%.2f", exact.toPlainString())) + UNITS[unit];
            assertEquals(expected, FilesystemCommand.prettySize(size), "size " + size);
        }
    }

    @Test
    void dfLine_namesTypeAndProfileAsBtrfsProgs() {
        // lines btrfs filesystem df printed for a fresh 256 MiB mkfs.btrfs image on the kernel
        assertEquals("Data, single: total=8.00MiB, used=0.00B",
                FilesystemCommand.dfLine(BlockGroupFlags.DATA, 8L << 20, 0));
        assertEquals("Metadata, DUP: total=32.00MiB, used=192.00KiB",
                FilesystemCommand.dfLine(BlockGroupFlags.METADATA | BlockGroupFlags.DUP, 32L << 20, 192L << 10));
        assertEquals("GlobalReserve, single: total=5.50MiB, used=0.00B",
                FilesystemCommand.dfLine(SpaceInfo.GLOBAL_RSV, 5767168, 0));
    }
}
