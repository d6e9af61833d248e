package jbtrfs.device.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import jbtrfs.device.LibAio;
import jbtrfs.testing.Prereq;

/** The command's contract: the flags, the file it lays out, and the JSON last line (not its numbers). */
class DeviceBenchTest {
    private static final Pattern JSON = Pattern.compile("\\{\"backend\":\"(\\w+)\",\"rw\":\"(\\w+)\",\"bs\":(\\d+),"
            + "\"qd\":(\\d+),\"iops\":(\\d+),\"mib_s\":([\\d.]+),\"p50_us\":([\\d.]+),\"p99_us\":([\\d.]+)}");

    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"nio,randwrite", "nio,read", "aio,randread", "aio,write"})
    void run_printsOneJsonObjectLast(String backend, String rw) {
        boolean aio = LibAio.load() != null;
        Prereq.require(!backend.equals("aio") || aio, "native AIO (libaio.so.1) is not available");
        Path f = dir.resolve("b.img");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc = DeviceBench.run(new String[] {"--file", f.toString(), "--size", "8M", "--rw", rw, "--bs", "4k",
            "--qd", "4", "--seconds", "1", "--backend", backend}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        String[] lines = out.strip().split("\n");
        Matcher m = JSON.matcher(lines[lines.length - 1]);
        assertTrue(m.matches(), "last line: " + lines[lines.length - 1]);
        assertEquals(backend, m.group(1));
        assertEquals(rw, m.group(2));
        assertEquals("4096", m.group(3));
        assertEquals("4", m.group(4));
        assertTrue(Long.parseLong(m.group(5)) > 0, out);
        assertTrue(Files.exists(f));
    }

    @Test
    void badFlags_exitTwoWithUsage() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertEquals(2, DeviceBench.run(new String[] {"--file", "x", "--rw", "sideways"},
                new PrintStream(bytes, true, StandardCharsets.UTF_8)));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("usage:"));
        bytes.reset();
        assertEquals(2, DeviceBench.run(new String[] {"--file", "x", "--backend", "uring"},
                new PrintStream(bytes, true, StandardCharsets.UTF_8)));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).startsWith(
                "bench-device: unknown device backend 'uring' (expected aio, nio or auto)\n"),
                bytes.toString(StandardCharsets.UTF_8));
        assertEquals(1L << 30, DeviceBench.parseSize("1G"));
        assertEquals(4096, DeviceBench.parseSize("4k"));
    }
}
