package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** The fio harness end to end in its --quick mode: every job measured or n/a, fio's JSON kept, a chart drawn. */
class BenchQuickTest {
    @TempDir
    Path tmp;

    @Test
    void quickRun_writesTableJsonAndChart() throws Exception {
        Prereq.requireFuse();
        Prereq.requireBinary("fio", "apt-get install fio");
        Prereq.requireBinary("fuse2fs", "apt-get install fuse2fs");
        Path out = tmp.resolve("out");
        Path repo = Jbtrfs.launcher().getParent().getParent();
        Shell.run(List.of(repo.resolve("bench/run").toString(), "--quick", "--out", out.toString(), "--work",
                tmp.resolve("work").toString()));
        String md = Files.readString(out.resolve("summary.md"));
        for (String job : List.of("seq-read", "rand-read", "metadata-stat", "seq-write-w", "rand-write-w",
                "rand-write-fsync-w", "metadata-create-w", "metadata-unlink-w", "untar-w", "rm-rf-w")) {
            String row = md.lines().filter(l -> l.startsWith("| " + job + " |")).findFirst().orElse("");
            String[] cells = row.split("\\|");
            assertEquals(8, cells.length, "row for " + job + ": " + row);
            assertTrue(cells[3].trim().matches("[0-9.]+"), "kernel measured " + job + ": " + row);
            assertTrue(cells[5].trim().matches("[0-9.]+"), "fuse2fs measured " + job + ": " + row);
            // our mount is read-write: every job, writes too, is measured
            assertTrue(cells[4].trim().matches("[0-9.]+"), "jbtrfs measured " + job + ": " + row);
        }
        assertTrue(Files.readString(out.resolve("jbtrfs/seq-read.json")).contains("\"jobname\" : \"seq-read\""));
        byte[] png = Files.readAllBytes(out.resolve("relative.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
    }
}
