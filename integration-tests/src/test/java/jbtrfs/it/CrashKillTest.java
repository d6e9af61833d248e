package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * kill -9 of the daemon at random moments while a loop writes marker files and fsyncs each (each fsync writes our
 * log, or commits): after every kill the kernel mounts the image, replaying our log, and every marker whose fsync
 * returned is there with its content; the image checks clean after that replay, and the next round goes on with it.
 * {@code -Djbtrfs.kills=N} changes the count (CI runs 50).
 */
class CrashKillTest {
    private static final String LOOP = """
            i=$START
            while true; do
              head -c $((RANDOM * 7)) /dev/urandom > "$MNT/bulk-$i" || exit 0
              printf 'marker %s\\n' "$i" > "$MNT/marker-$i" || exit 0
              dd if="$MNT/marker-$i" of=/dev/null status=none conv=fsync 2>/dev/null || true
              sync -d "$MNT/marker-$i" || exit 0
              echo "$i" >> "$LOG"
              [ $((i % 5)) -eq 0 ] && rm -f "$MNT/bulk-$((i - 3))"
              i=$((i + 1))
            done
            """;

    @TempDir
    Path dir;

    @Test
    void killDuringFsyncLoop_everyFsyncedMarkerSurvives_checkClean() throws Exception {
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        Path image = Images.mkfs(dir, null, 512);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path log = dir.resolve("fsynced.log");
        Files.writeString(log, "");
        Random rnd = new Random(2026);
        int kills = Integer.getInteger("jbtrfs.kills", 50);
        int next = 0;
        int verified = 0;
        for (int k = 0; k < kills; k++) {
            Jbtrfs.mountReadWrite(image, mnt, "-o", "commit=5");
            Process loop = new ProcessBuilder("bash", "-c", LOOP.replace("$START", Integer.toString(next))
                    .replace("$MNT", mnt.toString()).replace("$LOG", log.toString()))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("loop.out").toFile()).start();
            Thread.sleep(150 + rnd.nextInt(1200));
            String pid = Shell.sh("pgrep -f '[j]btrfs.jar mount (-f|--detached) .*" + mnt + "' | sed -n 1p").trim();
            assertTrue(!pid.isEmpty(), "no daemon for " + mnt);
            Shell.sh("kill -9 " + pid);
            loop.waitFor();
            Shell.attempt(List.of("fusermount", "-u", "-z", mnt.toString()));
            Shell.sh("while kill -0 " + pid + " 2>/dev/null; do sleep 0.05; done");
            List<String> fsynced = Files.readAllLines(log).stream().filter(s -> !s.isBlank()).toList();
            // the kernel mounts a copy read-write: it replays the log our fsyncs wrote, as after a power cut
            Path replayed = dir.resolve("replayed.img");
            Shell.sh("cp --sparse=always " + image + " " + replayed);
            Path kmnt = Files.createDirectories(dir.resolve("kernel"));
            Shell.sh("mount -o loop " + replayed + " " + kmnt);
            try {
                for (String i : fsynced) {
                    Path marker = kmnt.resolve("marker-" + i);
                    assertTrue(Files.exists(marker), "kill " + k + ": fsynced marker-" + i + " is gone");
                    assertEquals("marker " + i + "\n", Files.readString(marker, StandardCharsets.UTF_8),
                            "kill " + k + ": marker-" + i);
                }
            } finally {
                Shell.sh("umount " + kmnt);
            }
            // the loop device lets go of the copy after the umount returns (autoclear); our mount refuses an
            // image a loop device holds, and the copy becomes the image below
            Shell.sh("for t in $(seq 200); do [ -z \"$(losetup -j " + replayed + ")\" ] && break; sleep 0.05; done");
            BtrfsCheck.assertClean(replayed, "kill " + k + ", after the kernel's replay");
            // the next round writes on what the kernel left
            Files.move(replayed, image, StandardCopyOption.REPLACE_EXISTING);
            verified = fsynced.size();
            next = fsynced.isEmpty() ? next + 1000 : Integer.parseInt(fsynced.get(fsynced.size() - 1)) + 1000;
        }
        System.out.println("crash test: " + kills + " kills, " + verified + " fsynced markers verified after the last");
        assertTrue(verified > kills, "the loop fsynced too few markers to prove anything: " + verified);
    }
}
