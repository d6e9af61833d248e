package jbtrfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

class PrereqTest {
    @Test
    void require_unmet_printsOneLineAndAbortsWithTheReason() {
        PrintStream old = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            TestAbortedException e = assertThrows(TestAbortedException.class,
                    () -> Prereq.require(false, "no frobnicator here"));
            assertTrue(e.getMessage().endsWith("no frobnicator here"), e.getMessage());
            Prereq.require(true, "not printed");
        } finally {
            System.setOut(old);
        }
        assertEquals("skipped: no frobnicator here" + System.lineSeparator(), printed.toString(StandardCharsets.UTF_8));
    }

    @Test
    void onPath_findsBashButNoMadeUpName() {
        assertTrue(Prereq.onPath("bash"));
        assertFalse(Prereq.onPath("no-such-binary-" + System.nanoTime()));
    }
}
