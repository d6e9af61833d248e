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
        // the columns by the header's names: kernel, both jbtrfs transports, fuse2fs, then the ratios
        List<String> header = md.lines().filter(l -> l.startsWith("| job | unit |")).findFirst()
                .map(l -> List.of(l.split("\\|"))).orElseThrow().stream().map(String::trim).toList();
        for (String job : List.of("seq-read", "rand-read", "metadata-stat", "seq-write-w", "rand-write-w",
                "rand-write-fsync-w", "metadata-create-w", "metadata-unlink-w", "untar-w", "rm-rf-w")) {
            String row = md.lines().filter(l -> l.startsWith("| " + job + " |")).findFirst().orElse("");
            String[] cells = row.split("\\|");
            assertEquals(header.size(), cells.length, "row for " + job + ": " + row);
            // every target measured every job (our mounts are read-write: writes too), and its ratio to the kernel
            for (String target : List.of("kernel", "jbtrfs", "libfuse", "fuse2fs", "jbtrfs/kernel", "libfuse/kernel")) {
                int at = header.indexOf(target);
                assertTrue(at > 0, "summary.md has a column " + target + ": " + header);
                assertTrue(cells[at].trim().matches("[0-9.]+"), target + " measured " + job + ": " + row);
            }
        }
        assertTrue(Files.readString(out.resolve("jbtrfs/seq-read.json")).contains("\"jobname\" : \"seq-read\""));
        byte[] png = Files.readAllBytes(out.resolve("relative.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
    }
}
