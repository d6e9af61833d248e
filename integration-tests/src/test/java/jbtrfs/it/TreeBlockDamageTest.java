package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.ImageDamage;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * A damaged leaf of the FS tree: the kernel and our mount fail exactly the same lookups with EIO and serve the
 * rest. The leaf is found with dump-tree and mapped with btrfs-map-logical, never with our own reader.
 */
@ExtendWith(MountPrereqs.FuseAndLoop.class)
class TreeBlockDamageTest {
    private static final Pattern LEAF = Pattern.compile("^leaf (\\d+) items \\d+", Pattern.MULTILINE);
    private static final Pattern ITEM_KEY = Pattern.compile("^\\s+item \\d+ key \\((\\d+) (\\w+) ", Pattern.MULTILINE);

    @TempDir
    Path tmp;

    @Test
    void damagedFsTreeLeaf_isEioForItsInodesOnly() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/many"));
        for (int i = 0; i < 600; i++) Files.writeString(src.resolve("file-" + i), "content " + i);
        // single metadata: no second copy to repair from, so both readers must see the damage
        Path image = Images.mkfs(tmp, tmp.resolve("src"), 256, "-n", "4096", "-m", "single");

        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString()));
        long manyDir = objectidOf(dump, "many");
        long victim = victimLeaf(dump, manyDir);
        for (long physical : ImageDamage.physicalCopies(image, victim)) ImageDamage.flipByte(image, physical + 0x200);

        String script = "cd many && ls -f | LC_ALL=C sort | while read -r f; do "
                + "stat -c '%n %s %i %h' -- \"$f\" 2>&1 || true; done";
        Path kernelMnt = Files.createDirectory(tmp.resolve("kernel"));
        String kernel = Images.withKernelMount(image, kernelMnt, "ro", () -> Shell.sh(script, kernelMnt));
        Path ourMnt = Files.createDirectory(tmp.resolve("ours"));
        String ours;
        try (Jbtrfs m = Jbtrfs.mount(image, ourMnt)) {
            ours = Shell.sh(script, ourMnt);
        }
        long failing = kernel.lines().filter(l -> l.contains("Input/output error")).count();
        assertTrue(failing > 0 && failing < 600, "the damage hits some inodes, not all: " + failing);
        assertEquals(kernel, ours);
    }

    /** The inode number of the top-level entry called {@code name}, from its INODE_REF in dump-tree. */
    private static long objectidOf(String dump, String name) {
        Matcher m = Pattern.compile("key \\((\\d+) INODE_REF 256\\)[^\\n]*\\n[^\\n]*name: " + Pattern.quote(name)
                + "\\n").matcher(dump);
        assertTrue(m.find(), "no INODE_REF for " + name);
        return Long.parseLong(m.group(1));
    }

    /** A leaf in the middle of the tree holding inode items only of files, none of the root or the directory. */
    private static long victimLeaf(String dump, long dirObjectid) {
        Matcher leaf = LEAF.matcher(dump);
        List<Long> starts = new ArrayList<>();
        List<Long> bytenrs = new ArrayList<>();
        while (leaf.find()) {
            starts.add((long) leaf.start());
            bytenrs.add(Long.parseLong(leaf.group(1)));
        }
        assertTrue(bytenrs.size() >= 3, "expected a multi-leaf FS tree, got " + bytenrs.size() + " leaves");
        for (int i = 1; i < bytenrs.size() - 1; i++) {
            String body = dump.substring(starts.get(i).intValue(), starts.get(i + 1).intValue());
            Matcher key = ITEM_KEY.matcher(body);
            boolean clean = true;
            boolean inodes = false;
            while (key.find()) {
                long objectid = Long.parseLong(key.group(1));
                if (objectid == dirObjectid || objectid == 256) clean = false;
                if (key.group(2).equals("INODE_ITEM")) inodes = true;
            }
            if (clean && inodes) return bytenrs.get(i);
        }
        throw new AssertionError("no leaf holds only file inodes");
    }
}
