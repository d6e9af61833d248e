package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import com.sun.nio.file.ExtendedOpenOption;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** The metrics endpoint scraped by a real HTTP client while a mount serves reads. */
@ExtendWith(MountPrereqs.Fuse.class)
class MetricsTest {
    private static final int FILE_SIZE = 3_000_000;

    @TempDir
    Path tmp;

    private Path image(String name) throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src-" + name));
        byte[] b = new byte[FILE_SIZE];
        new Random(3).nextBytes(b);
        Files.write(src.resolve("data.bin"), b);
        return Images.mkfs(tmp, src, 256);
    }

    /** Whether the image's filesystem takes O_DIRECT (tmpfs does not; the daemon then reads through the cache). */
    private static boolean directIoWorks(Path image) {
        try (FileChannel ch = FileChannel.open(image,
                StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            return true;
        } catch (Exception e) {
            System.out.println(image + ": no O_DIRECT here (" + e + "), the page cache check is left out");
            return false;
        }
    }

    private static String get(int port, String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), path);
        return r.body();
    }

    private static double value(String metrics, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics);
        assertTrue(m.find(), "no " + series + " in the scrape");
        return Double.parseDouble(m.group(1));
    }

    @Test
    void counters_followTheWorkloadOnTwoMounts() throws Exception {
        int p1 = DaemonMetrics.freePort();
        int p2 = DaemonMetrics.freePort();
        Path m1 = Files.createDirectory(tmp.resolve("m1"));
        Path m2 = Files.createDirectory(tmp.resolve("m2"));
        try (Jbtrfs a = Jbtrfs.mount(image("a"), m1, "-o", "metrics=127.0.0.1:" + p1);
             Jbtrfs b = Jbtrfs.mount(image("b"), m2, "-o", "metrics=" + p2)) {
            assertEquals("ok\n", get(p1, "/health"));
            assertEquals("ok\n", get(p2, "/health"));
            double before = value(get(p1, "/metrics"), "jbtrfs_fuse_read_bytes_total");
            assertEquals(FILE_SIZE, Files.readAllBytes(m1.resolve("data.bin")).length);
            String after = get(p1, "/metrics");
            double read = value(after, "jbtrfs_fuse_read_bytes_total") - before;
            assertTrue(read >= FILE_SIZE && read <= FILE_SIZE + (1 << 20), "bytes read through the mount: " + read);
            assertTrue(value(after, "jbtrfs_fuse_operations_seconds_count{op=\"read\"}") > 0);
            assertTrue(value(after, "jbtrfs_space_bytes{state=\"used\",type=\"DATA\"}") >= FILE_SIZE);
            assertEquals(0.0, value(after, "jbtrfs_checksum_failures_total{kind=\"data\"}"));
            // the other mount did no reads
            assertEquals(0.0, value(get(p2, "/metrics"), "jbtrfs_fuse_read_bytes_total"));
            Shell.Result stats = Jbtrfs.run("stats", m1.toString());
            assertEquals(0, stats.exitCode(), stats.output());
            assertTrue(stats.output().contains("jbtrfs_fuse_read_bytes_total"), stats.output());
        }
    }

    @Test
    void portInUse_failsTheMountCleanly() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("m"));
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = busy.getLocalPort();
            Shell.Result r = Jbtrfs.run("mount", "--read-only", "-o", "metrics=127.0.0.1:" + port,
                    image("c").toString(), mnt.toString());
            assertEquals(1, r.exitCode(), r.output());
            assertTrue(r.output().trim().startsWith("jbtrfs: metrics endpoint: cannot listen on 127.0.0.1:" + port),
                    r.output());
            assertEquals(1, r.output().trim().lines().count(), r.output());
            assertTrue(!Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " "), "not mounted");
        }
    }

    @Test
    void writeMeters_bytesWrittenAndOneCommitPerSync() throws Exception {
        int port = DaemonMetrics.freePort();
        Path mnt = Files.createDirectory(tmp.resolve("rw"));
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image("rw"), mnt, "-o", "metrics=" + port + ",commit=300")) {
            String before = get(port, "/metrics");
            double written0 = value(before, "jbtrfs_fuse_write_bytes_total");
            double commits0 = value(before, "jbtrfs_commits_seconds_count");
            byte[] data = new byte[5_000_000];
            new Random(9).nextBytes(data);
            Files.write(mnt.resolve("new.bin"), data);
            // a commit on demand (fsync of the file would write a log tree, not commit)
            Jbtrfs.commitNow(mnt);
            String mid = get(port, "/metrics");
            double written = value(mid, "jbtrfs_fuse_write_bytes_total") - written0;
            assertTrue(written >= data.length && written <= data.length + (1 << 20), "bytes written: " + written);
            assertEquals(commits0 + 1, value(mid, "jbtrfs_commits_seconds_count"), "one sync, one commit");
            assertTrue(value(mid, "jbtrfs_commit_tree_blocks_sum") > 0);
            assertTrue(value(mid, "jbtrfs_commit_inflight_peak_max") >= 1);
            assertEquals(0, value(mid, "jbtrfs_transaction_dirty_bytes"));
            Files.writeString(mnt.resolve("small"), "x");
            assertTrue(value(get(port, "/metrics"), "jbtrfs_transaction_dirty_bytes") > 0);
            Jbtrfs.commitNow(mnt);
            Jbtrfs.commitNow(mnt);
            // the second sync had nothing to commit
            assertEquals(commits0 + 2, value(get(port, "/metrics"), "jbtrfs_commits_seconds_count"));
        }
    }

    @Test
    void oneMebibyteWrite_arrivesAsOneRequest() throws Exception {
        // libfuse 2 alone caps a request at 128 KiB: a 1 MiB write came as eight
        Prereq.requireKernel(4, 20, "FUSE_MAX_PAGES");
        int port = DaemonMetrics.freePort();
        Path mnt = Files.createDirectory(tmp.resolve("big"));
        Path image = image("big");
        Path src = tmp.resolve("eight.bin");
        byte[] data = new byte[8 << 20];
        new Random(11).nextBytes(data);
        Files.write(src, data);
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, "-o", "metrics=" + port)) {
            // the meter appears with the first write
            assertTrue(!get(port, "/metrics").contains("jbtrfs_fuse_operations_seconds_count{op=\"write\"}"));
            Shell.sh("dd if=" + src + " of=" + mnt + "/eight.bin bs=1M status=none");
            double writes = value(get(port, "/metrics"), "jbtrfs_fuse_operations_seconds_count{op=\"write\"}");
            assertEquals(8, writes, "eight write(2) calls of 1 MiB");
            Shell.sh("sync " + mnt + "/eight.bin");
            assertTrue(Arrays.equals(data, Files.readAllBytes(mnt.resolve("eight.bin"))));
        }
        BtrfsCheck.assertClean(image, "after 1 MiB writes");
    }

    @Test
    void oneMebibyteReadahead_arrivesAsOneRequest_readOnlyAndReadWrite() throws Exception {
        // libfuse 2 alone caps a request at 128 KiB (and the mount said max_read=131072): 256 reads for 32 MiB
        Prereq.requireKernel(4, 20, "FUSE_MAX_PAGES");
        Path src = Files.createDirectory(tmp.resolve("src-readahead"));
        byte[] data = new byte[32 << 20];
        new Random(12).nextBytes(data);
        Files.write(src.resolve("big.bin"), data);
        Path image = Images.mkfs(tmp, src, 256);
        boolean direct = directIoWorks(image);
        for (boolean readOnly : new boolean[] {true, false}) {
            // the host's cached pages of the image go, so that what the reads bring back in can be told
            Shell.sh("dd if=" + image + " iflag=nocache count=0 status=none");
            int port = DaemonMetrics.freePort();
            Path mnt = Files.createDirectory(tmp.resolve("readahead-" + (readOnly ? "ro" : "rw")));
            String[] options = {"-o", "metrics=" + port};
            try (Jbtrfs m = readOnly ? Jbtrfs.mount(image, mnt, options) : Jbtrfs.mountReadWrite(image, mnt, options)) {
                // a fresh mount: nothing of the file is in the kernel's cache yet
                assertTrue(Arrays.equals(data, Files.readAllBytes(mnt.resolve("big.bin"))));
                double reads = value(get(port, "/metrics"), "jbtrfs_fuse_operations_seconds_count{op=\"read\"}");
                System.out.println((readOnly ? "read-only" : "read-write") + ": 32 MiB read in " + reads + " requests");
                assertTrue(reads >= 32 && reads <= 40, reads + " read requests for 32 MiB");
                long cached = Long.parseLong(Shell.sh("fincore --bytes --noheadings --output RES " + image).trim());
                System.out.println("the host caches " + cached + " bytes of the image");
                // file data goes around the host's page cache (tree blocks do not)
                if (direct) assertTrue(cached < 8 << 20, cached + " bytes of the image cached after reading 32 MiB");
            }
        }
    }

    @Test
    void spaceCacheMeters_eachCommitCountsItsDirtyGroups_inBothWriteouts() throws Exception {
        Path image = Images.mkfs(tmp, null, 2048, "-R", "^free-space-tree");
        for (String writeout : new String[] {"two-stage", "serial"}) {
            int port = DaemonMetrics.freePort();
            Path mnt = Files.createDirectories(tmp.resolve("v1-" + writeout));
            try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, "-o", "metrics=" + port + ",commit=300,space_cache=v1,"
                    + "writeout=" + writeout)) {
                Shell.sh("dd if=/dev/zero of=" + mnt + "/" + writeout + " bs=1M count=150 status=none");
                Jbtrfs.commitNow(mnt);
                String after = get(port, "/metrics");
                assertEquals(1, value(after, "jbtrfs_commit_cache_groups_count"), "one commit");
                assertTrue(value(after, "jbtrfs_commit_cache_groups_sum") >= 1, after);
                assertTrue(value(after, "jbtrfs_commit_cache_written_bytes_sum") >= 64 * 1024);
                double peak = value(after, "jbtrfs_commit_cache_inflight_peak_max");
                assertTrue(writeout.equals("serial") ? peak == 1 : peak >= 1, writeout + ": peak " + peak);
                assertEquals(0, value(after, "jbtrfs_commit_cache_failed_total"));
            }
        }
        BtrfsCheck.assertClean(image, "after the v1 mounts");
    }
}
