package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.Timespec;
import jbtrfs.testing.EmptyImage;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;

/** The times a change stamps on inodes come from the clock Filesystem.open was given. */
class InodeClockTest {
    private static final Instant CREATED = Instant.ofEpochSecond(1_500_000_000L, 123_456_789);
    private static final Instant CHANGED = Instant.ofEpochSecond(1_600_000_000L, 987_654_321);

    @TempDir
    Path dir;

    @Test
    void newInodes_takeTheClocksTime_andKeepItThroughACommit() throws Exception {
        MemoryBlockDevice dev = EmptyImage.device(1);
        Timespec created = timespec(CREATED);
        InodeId file;
        InodeId sub;
        try (Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0),
                Clock.fixed(CREATED, ZoneOffset.UTC))) {
            FsOperations ops = fs.operations();
            file = ops.mknod(ops.root(), "file", Stat.S_IFREG | 0644, 0, 0, 0);
            sub = ops.mkdir(ops.root(), "dir", 0755, 0, 0);
            assertTimes(ops.stat(file), created, created, created, created);
            assertTimes(ops.stat(sub), created, created, created, created);
            // the directory that gained them changed then too
            assertEquals(created, ops.stat(ops.root()).mtime());
            assertEquals(created, ops.stat(ops.root()).ctime());
        }
        MemoryBlockDevice committed = PowerCuts.memoryDevice(dev.snapshot());
        try (Filesystem fs = Filesystem.open(committed, MountOptions.readOnlyDefaults())) {
            assertTimes(fs.operations().stat(file), created, created, created, created);
        }
    }

    @Test
    void laterChanges_stampTheClocksNewTime_onlyWhereTheKernelDoes() throws Exception {
        SettableClock clock = new SettableClock(CREATED);
        try (Filesystem fs = openReadWrite(clock)) {
            FsOperations ops = fs.operations();
            InodeId file = ops.mknod(ops.root(), "file", Stat.S_IFREG | 0644, 0, 0, 0);
            InodeId gone = ops.mknod(ops.root(), "gone", Stat.S_IFREG | 0644, 0, 0, 0);
            clock.now = CHANGED;
            Timespec created = timespec(CREATED);
            Timespec changed = timespec(CHANGED);
            ops.setXattr(file, "user.k", "v".getBytes(StandardCharsets.UTF_8), 0);
            assertTimes(ops.stat(file), created, created, changed, created);
            ops.unlink(ops.root(), "gone");
            assertEquals(changed, ops.stat(ops.root()).mtime());
            assertEquals(changed, ops.stat(ops.root()).ctime());
            ops.utimens(file, Timespec.NOW, Timespec.NOW);
            assertTimes(ops.stat(file), changed, changed, changed, created);
        }
    }

    @Test
    void writeBack_keepsMtimeAndCtime_whereWriteStampsThem() throws Exception {
        SettableClock clock = new SettableClock(CREATED);
        try (Filesystem fs = openReadWrite(clock)) {
            FsOperations ops = fs.operations();
            InodeId file = ops.mknod(ops.root(), "file", Stat.S_IFREG | 0644, 0, 0, 0);
            clock.now = CHANGED;
            Timespec created = timespec(CREATED);
            // inline, then past the inline size into a regular extent: both paths keep the times
            assertEquals(5, ops.writeBack(file, 0, ByteBuffer.wrap("hello".getBytes(StandardCharsets.UTF_8))));
            assertEquals(8192, ops.writeBack(file, 4096, ByteBuffer.wrap(new byte[8192])));
            assertEquals(12288, ops.stat(file).size());
            assertTimes(ops.stat(file), created, created, created, created);
            ops.write(file, 0, ByteBuffer.wrap(new byte[1]));
            assertTimes(ops.stat(file), created, timespec(CHANGED), timespec(CHANGED), created);
        }
    }

    @Test
    void placeholderOfASubvolumeASnapshotDidNotCopy_showsTheClocksTime() throws Exception {
        Path image = Images.kernelWritten(dir, 160, "", "btrfs -q subvolume create sub"
                + " && btrfs -q subvolume create sub/nested && btrfs -q subvolume snapshot sub snap");
        MemoryBlockDevice dev = PowerCuts.memoryDevice(image);
        Instant lookedUp = Instant.ofEpochMilli(1_234_567_890_123L);
        try (Filesystem fs = Filesystem.open(dev, MountOptions.readOnlyDefaults(),
                Clock.fixed(lookedUp, ZoneOffset.UTC))) {
            Stat s = fs.operations().stat(fs.operations().resolve("/snap/nested"));
            // the kernel's new_simple_dir: inode 2, stamped with the time of the lookup (to the millisecond here)
            assertEquals(ObjectIds.EMPTY_SUBVOL_DIR, s.ino());
            Timespec t = timespec(lookedUp);
            assertTimes(s, t, t, t, t);
        }
    }

    /** A fresh empty image, read-write on the in-memory device, its changes stamped by {@code clock}. */
    private static Filesystem openReadWrite(Clock clock) throws Exception {
        return Filesystem.open(EmptyImage.device(2), MountOptions.readWriteDefaults().withCommitSeconds(0), clock);
    }

    private static void assertTimes(Stat s, Timespec atime, Timespec mtime, Timespec ctime, Timespec otime) {
        assertEquals(atime, s.atime(), "atime");
        assertEquals(mtime, s.mtime(), "mtime");
        assertEquals(ctime, s.ctime(), "ctime");
        assertEquals(otime, s.otime(), "otime");
    }

    private static Timespec timespec(Instant i) {
        return new Timespec(i.getEpochSecond(), i.getNano());
    }

    /** A clock the test moves. */
    private static final class SettableClock extends Clock {
        volatile Instant now;

        SettableClock(Instant start) {
            now = start;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
