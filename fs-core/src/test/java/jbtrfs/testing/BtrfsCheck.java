package jbtrfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code btrfs check --readonly} as a test assertion: exit 0, not one ERROR or WARNING line, and no complaint about
 * a v1 space cache (check only prints those, e.g. "failed to load free space cache", without failing).
 */
public final class BtrfsCheck {
    /** What check prints of a v1 cache it cannot use (its progress line "[3/7] checking free space cache" aside). */
    private static final Pattern SPACE_CACHE_COMPLAINT = Pattern.compile(
            "free space cache for block group|wrong amount of free space|cache appears valid but isn't"
            + "|csum mismatch on free space cache|space cache generation|free space inode generation"
            + "|cache and super generation|entries left in the space cache|no free space entry for|wanted offset"
            + "|wanted bytes|Duplicate entries in free space cache");
    private BtrfsCheck() {
    }

    /** Checks the image's metadata. */
    public static void assertClean(Path image, String what) throws Exception {
        run(image, what, false);
    }

    /** Checks the metadata and every data sector against its checksum. */
    public static void assertCleanWithData(Path image, String what) throws Exception {
        run(image, what, true);
    }

    private static void run(Path image, String what, boolean data) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("btrfs", "check", "--readonly"));
        if (data) cmd.add("--check-data-csum");
        cmd.add(image.toString());
        Shell.Result r = Shell.attempt(cmd);
        assertEquals(0, r.exitCode(), what + "\n" + r.output());
        assertTrue(!r.output().contains("ERROR") && !r.output().contains("WARNING"), what + "\n" + r.output());
        for (String line : r.output().split("\n")) {
            assertTrue(!SPACE_CACHE_COMPLAINT.matcher(line).find(), what + ": a space cache complaint\n"
                    + r.output());
        }
    }
}
