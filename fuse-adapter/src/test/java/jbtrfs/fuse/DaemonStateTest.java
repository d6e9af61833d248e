package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.TransactionAbortedException;

/** What a daemon leaves for umount and stats: its exit and, after an abort, the one line about the lost changes. */
class DaemonStateTest {
    @TempDir
    Path mountpoint;

    @Test
    void aFailedExit_carriesItsLineAndTheAbortIsKeptUntilTheNextMount() throws Exception {
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        state.clearExit();
        assertEquals(-1, state.readExit());
        assertNull(state.readExitReason());
        assertNull(state.readAbort());

        TransactionAbortedException a = new TransactionAbortedException(12, 11,
                "the commit failed while settling the trees: no extent item\n(second line)", null);
        state.writeAbort(a.getMessage());
        state.writeExit(1, MountCommand.lostChanges(a));
        assertEquals(1, state.readExit());
        assertEquals("unmounted, but changes since the last commit (transaction 11) were not written: the commit "
                + "failed while settling the trees: no extent item (second line)", state.readExitReason());
        assertEquals("transaction 12 aborted: the commit failed while settling the trees: no extent item "
                + "(second line) (the image stays at transaction 11)", state.readAbort());

        state.writeExit(0);
        assertEquals(0, state.readExit());
        assertNull(state.readExitReason());
        state.clearExit();
        assertEquals(-1, state.readExit());
        assertNull(state.readAbort());
    }
}
