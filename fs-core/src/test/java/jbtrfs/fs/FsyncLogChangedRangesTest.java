package jbtrfs.fs;

import static jbtrfs.fs.FsyncLogTest.bytes;
import static jbtrfs.fs.FsyncLogTest.write;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/**
 * fsyncs of a file logged before in the same transaction log only the ranges changed since ({@link ExtentChanges},
 * {@link LogChangedExtents}): many random overwrites with an fsync after each, and truncations, punched holes,
 * preallocations, clones and overwrites between the fsyncs of one transaction. The power goes without a commit; our
 * replay and the kernel's replay of our log must both show every fsync'd byte and size, and btrfs check must be
 * clean after each.
 */
class FsyncLogChangedRangesTest {
    private static final int SECTOR = 4096;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"-O no-holes", "-O ^no-holes"})
    void randomOverwritesEachFsynced_powerCut_bothReplaysShowEveryFsyncedByte_checkClean(String mkfsOptions)
            throws Exception {
        Images.requireKernelBtrfs();
        MemoryBlockDevice dev = device(mkfsOptions);
        Filesystem fs = PowerCuts.openOrNull(dev); // never closed: the power goes under it
        FsOperations ops = fs.operations();
        Random rnd = new Random(1919);
        InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] model = new byte[0];
        for (int at = 0; at < (4 << 20); at += 65536) model = write(ops, f, at, bytes(rnd, 65536), model);
        InodeId g = ops.mknod(ops.root(), "g", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] other = write(ops, g, 0, bytes(rnd, 300_000), new byte[0]);
        ops.sync();
        for (int i = 0; i < 400; i++) {
            // mostly whole sectors, as fio's; now and then an odd one across sectors, or into the other file
            boolean odd = i % 7 == 3;
            int len = odd ? 1 + rnd.nextInt(20_000) : SECTOR;
            long at = odd ? rnd.nextInt(model.length) : (long) rnd.nextInt(model.length / SECTOR) * SECTOR;
            model = write(ops, f, at, bytes(rnd, len), model);
            ops.fsync(f, i % 2 == 0);
            if (i % 50 == 10) {
                other = write(ops, g, rnd.nextInt(other.length), bytes(rnd, 9000), other);
                ops.fsync(g, false);
            }
        }
        assertEquals(Map.of(), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
        // written after the last fsync: no replay owes it
        ops.write(f, 0, ByteBuffer.wrap(new byte[5000]));
        PowerCuts.assertReplaysShow(dev, 19, dir, Map.of("f", model, "g", other));
    }

    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"-O no-holes", "-O ^no-holes"})
    void truncatesPunchesClonesAndOverwritesBetweenFsyncs_powerCut_bothReplaysShowEveryFsyncedByte_checkClean(
            String mkfsOptions) throws Exception {
        Images.requireKernelBtrfs();
        MemoryBlockDevice dev = device(mkfsOptions);
        Filesystem fs = PowerCuts.openOrNull(dev);
        FsOperations ops = fs.operations();
        Random rnd = new Random(2026);
        InodeId f = ops.mknod(ops.root(), "f", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] model = write(ops, f, 0, bytes(rnd, 1 << 20), new byte[0]);
        InodeId src = ops.mknod(ops.root(), "src", Stat.S_IFREG | 0644, 0, 0, 0);
        byte[] source = write(ops, src, 0, bytes(rnd, 256 * SECTOR), new byte[0]);
        ops.sync();
        for (int i = 0; i < 240; i++) {
            if (rnd.nextInt(8) == 0) {
                // a clone into the file (a reflink: whole sectors) asks for a whole log, as the kernel's
                long to = (long) rnd.nextInt(model.length / SECTOR + 2) * SECTOR;
                int from = rnd.nextInt(128) * SECTOR;
                int n = (int) ops.copyFileRange(src, from, f, to, SECTOR * (1 + rnd.nextInt(64)), 0);
                if (to + n > model.length) model = Arrays.copyOf(model, (int) (to + n));
                System.arraycopy(source, from, model, (int) to, n);
            } else {
                model = change(ops, f, model, rnd);
            }
            // one to three changes between fsyncs, and a commit midway (the log starts over)
            if (rnd.nextInt(3) == 0) continue;
            ops.fsync(f, rnd.nextBoolean());
            if (i == 120) ops.sync();
        }
        ops.fsync(f, false);
        assertEquals(Map.of(), fs.fsyncFallbacks(), "fsyncs that fell back to a full commit");
        PowerCuts.assertReplaysShow(dev, 19, dir, Map.of("f", model, "src", source));
    }

    /** One change of the file as its model says. Returns the new model. */
    private static byte[] change(FsOperations ops, InodeId f, byte[] model, Random rnd) throws Exception {
        int size = model.length;
        switch (rnd.nextInt(7)) {
            case 0 -> {
                int to = size == 0 ? 0 : rnd.nextInt(size);
                ops.truncate(f, to);
                return Arrays.copyOf(model, to);
            }
            case 1 -> {
                int to = size + 1 + rnd.nextInt(200_000);
                ops.truncate(f, to);
                return Arrays.copyOf(model, to);
            }
            case 2 -> {
                long at = rnd.nextInt(size + 1);
                int len = 1 + rnd.nextInt(100_000);
                ops.fallocate(f, FsOperations.FALLOC_FL_PUNCH_HOLE | FsOperations.FALLOC_FL_KEEP_SIZE, at, len);
                Arrays.fill(model, (int) Math.min(at, size), (int) Math.min(at + len, size), (byte) 0);
                return model;
            }
            case 3 -> {
                // preallocated past EOF, keeping the size: the replay must not show it, nor lose it later
                ops.fallocate(f, FsOperations.FALLOC_FL_KEEP_SIZE, size + rnd.nextInt(3) * SECTOR,
                        SECTOR * (1 + rnd.nextInt(40)));
                return model;
            }
            case 4 -> {
                long at = rnd.nextInt(size + 1);
                int len = 1 + rnd.nextInt(60_000);
                ops.fallocate(f, 0, at, len);
                return at + len > size ? Arrays.copyOf(model, (int) (at + len)) : model;
            }
            default -> {
                long at = rnd.nextInt(size + 50_000);
                return write(ops, f, at, bytes(rnd, rnd.nextBoolean() ? SECTOR : 1 + rnd.nextInt(30_000)), model);
            }
        }
    }

    private MemoryBlockDevice device(String mkfsOptions) throws Exception {
        return PowerCuts.memoryDevice(Images.mkfs(dir, null, 160, mkfsOptions.split(" ")));
    }
}
