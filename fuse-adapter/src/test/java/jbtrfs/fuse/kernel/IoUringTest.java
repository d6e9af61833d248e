package jbtrfs.fuse.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import com.kenai.jffi.MemoryIO;

/** The raw io_uring against this kernel: NOPs submitted come back as completions carrying their user_data. */
class IoUringTest {
    private static final int OP_NOP = 0;

    @Test
    void nops_completeWithTheirUserData_inOrder() throws Exception {
        requireIoUring();
        try (IoUring ring = IoUring.setup(UringLibC.get(), 2)) {
            for (int round = 0; round < 5; round++) {
                MemoryIO m = MemoryIO.getInstance();
                for (long data : new long[] {100 + round, 200 + round}) {
                    long sqe = ring.nextSqe();
                    m.putByte(sqe, (byte) OP_NOP);
                    m.putLong(sqe + 32, data);
                }
                assertEquals(2, ring.enter(2));
                for (long data : new long[] {100 + round, 200 + round}) {
                    long cqe = ring.peekCqe();
                    assertNotEquals(0, cqe, "a completion is there");
                    assertEquals(data, IoUring.cqeUserData(cqe));
                    assertEquals(0, IoUring.cqeResult(cqe));
                    ring.consumeCqe();
                }
                assertEquals(0, ring.peekCqe(), "nothing more");
            }
        }
    }

    @Test
    void fullSubmissionRing_refusesAnotherEntry() throws Exception {
        requireIoUring();
        try (IoUring ring = IoUring.setup(UringLibC.get(), 2)) {
            ring.nextSqe();
            ring.nextSqe();
            assertThrows(IllegalStateException.class, ring::nextSqe);
        }
    }

    @Test
    void possibleCpus_countsTheKernelsRanges() {
        assertEquals(1, FuseUring.possibleCpus("0\n"));
        assertEquals(2, FuseUring.possibleCpus("0-1\n"));
        assertEquals(6, FuseUring.possibleCpus("0-3,8,10"));
        assertThrows(NumberFormatException.class, () -> FuseUring.possibleCpus("x"));
    }

    static void requireIoUring() throws IOException {
        Path disabled = Path.of("/proc/sys/kernel/io_uring_disabled");
        Assumptions.assumeTrue(!Files.exists(disabled) || Files.readString(disabled).trim().equals("0"),
                () -> skip("io_uring is disabled (" + disabled + ")"));
    }

    static String skip(String why) {
        String msg = "IoUringTest skipped: " + why;
        System.out.println(msg);
        return msg;
    }
}
