package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.TransactionAbortedException;

/** What a daemon leaves for umount and stats: its exit and, after an abort, the one line about the lost changes. */
class DaemonStateTest {
    private static final long SELF = ProcessHandle.current().pid();

    @TempDir
    Path mountpoint;

    @Test
    void aFailedExit_carriesItsLineAndTheAbortIsKeptUntilTheNextMount() throws Exception {
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        Files.deleteIfExists(state.exitFile());
        state.clearAbort();
        assertEquals(-1, state.readExit(SELF));
        assertNull(state.readExitReason());
        assertNull(state.readAbort());

        TransactionAbortedException a = new TransactionAbortedException(12, 11,
                "the commit failed while settling the trees: no extent item\n(second line)", null);
        state.writeAbort(a.getMessage());
        state.writeExit(1, MountCommand.lostChanges(a));
        assertEquals(1, state.readExit(SELF));
        assertEquals("unmounted, but changes since the last commit (transaction 11) were not written: the commit "
                + "failed while settling the trees: no extent item (second line)", state.readExitReason());
        assertEquals("transaction 12 aborted: the commit failed while settling the trees: no extent item "
                + "(second line) (the image stays at transaction 11)", state.readAbort());

        state.writeExit(0);
        assertEquals(0, state.readExit(SELF));
        assertNull(state.readExitReason());
        state.clearAbort();
        assertNull(state.readAbort());
    }

    /**
     * Mount cycles at one mountpoint overlap (the next daemon starts while the last one's unmount waits for it): the
     * exit record answers only for the daemon that wrote it and survives the next daemon's start, and the last
     * daemon's unmount leaves the next daemon's pid file alone.
     */
    @Test
    void theExitRecordAndPidFile_belongToOneDaemon_whenTheNextMountOverlapsTheLastUnmount() throws Exception {
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        long next = SELF + 1;
        state.writePid(SELF);
        state.writeExit(0);
        // the next daemon starts: it drops the abort line, writes its pid
        state.clearAbort();
        state.writePid(next);
        assertEquals(0, state.readExit(SELF), "the record of the daemon that exited after its last commit");
        assertEquals(-1, state.readExit(next), "the next daemon has recorded nothing yet");
        state.clear(SELF);
        assertEquals(next, state.readPid(), "the unmount of the first daemon keeps the next one's pid file");
        state.clear(next);
        assertFalse(Files.exists(state.pidFile()));
        for (Path f : new Path[] {state.exitFile(), state.pidFile()}) {
            assertFalse(Files.exists(f.resolveSibling(f.getFileName() + "." + SELF + ".tmp")), "left behind: " + f);
        }
    }
}
