package jbtrfs.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/** The superblock's backup roots as we decode them against {@code dump-super -f} of an image mkfs.btrfs wrote. */
class RootBackupTest {
    private static final Pattern ROOT = Pattern.compile("^\\s*(\\w+):\\s+(\\d+)\\s+gen: (\\d+)\\s+level: (\\d+)");
    private static final Pattern VALUE = Pattern.compile("^\\s*backup_(total_bytes|bytes_used|num_devices):\\s+(\\d+)");

    @TempDir
    Path dir;

    @Test
    void layout_isTheKernelStruct() {
        assertEquals(168, RootBackup.SIZE);
        // sys_chunk_array ends at 2859; the ring of four ends before the superblock's padding
        assertEquals(2859, RootBackup.OFFSET_SUPER_ROOTS);
        assertEquals(2859 + 4 * 168, RootBackup.offsetInSuper(RootBackup.NUM_BACKUP_ROOTS));
        assertEquals(152, RootBackup.OFFSET_TREE_ROOT_LEVEL);
    }

    @Test
    void encode_thenRead_givesTheSameBackup() {
        RootBackup b = new RootBackup(new RootBackup.Root(30441472, 5, 1), new RootBackup.Root(22020096, 4, 0),
                new RootBackup.Root(30474240, 5, 2), new RootBackup.Root(30425088, 3, 0),
                new RootBackup.Root(30457856, 5, 0), new RootBackup.Root(30490624, 2, 3), 209715200, 147456, 1);
        byte[] raw = b.encode();
        assertEquals(RootBackup.SIZE, raw.length);
        ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(b, RootBackup.read(buf, 0));
        assertEquals(22020096, buf.getLong(RootBackup.OFFSET_CHUNK_ROOT));
        assertEquals(3, buf.get(RootBackup.OFFSET_TREE_ROOT_LEVEL + 5)); // csum_root_level
        assertEquals(1, buf.getLong(RootBackup.OFFSET_NUM_DEVICES));
    }

    @Test
    void read_matchesDumpSuper_ofAMkfsImage() throws Exception {
        Path image = Images.mkfs(dir, null, 200);
        ByteBuffer sb = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(image)) {
            ch.read(sb, SuperBlock.MIRROR_OFFSETS[0]);
        }
        List<RootBackup> want = dumped(Shell.run(List.of("btrfs", "inspect-internal", "dump-super", "-f",
                image.toString())));
        assertEquals(RootBackup.NUM_BACKUP_ROOTS, want.size());
        long newest = 0;
        int newestSlot = -1;
        for (int slot = 0; slot < RootBackup.NUM_BACKUP_ROOTS; slot++) {
            int at = RootBackup.offsetInSuper(slot);
            RootBackup got = RootBackup.read(sb, at);
            assertEquals(want.get(slot), got, "backup " + slot);
            byte[] raw = new byte[RootBackup.SIZE];
            sb.get(at, raw);
            assertArrayEquals(raw, got.encode(), "backup " + slot + " encodes to what mkfs wrote");
            if (got.treeRoot().generation() > newest) {
                newest = got.treeRoot().generation();
                newestSlot = slot;
            }
        }
        // mkfs commits more than four times: every slot is filled, the newest holds the superblock's roots
        assertEquals(SuperBlock.decode(sb).generation(), newest);
        assertEquals((newestSlot + 1) % RootBackup.NUM_BACKUP_ROOTS, RootBackup.nextSlot(sb));
    }

    @Test
    void nextSlot_turnsTheRing_afterTheNewest() {
        ByteBuffer sb = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, RootBackup.nextSlot(sb)); // never filled: slot 0 counts as the newest
        long[] gens = {9, 10, 7, 8};
        for (int slot = 0; slot < gens.length; slot++) {
            sb.putLong(RootBackup.offsetInSuper(slot) + 8, gens[slot]);
        }
        assertEquals(2, RootBackup.nextSlot(sb));
        sb.putLong(RootBackup.offsetInSuper(3) + 8, 11);
        assertEquals(0, RootBackup.nextSlot(sb));
    }

    /** The four backups of dump-super -f's "backup_roots[4]" section, in slot order. */
    private static List<RootBackup> dumped(String out) {
        List<RootBackup> backups = new ArrayList<>();
        List<RootBackup.Root> roots = new ArrayList<>();
        long[] values = new long[3];
        int filled = 0;
        boolean inBackups = false;
        for (String line : out.split("\n")) {
            if (line.startsWith("backup_roots[")) inBackups = true;
            if (!inBackups) continue;
            Matcher r = ROOT.matcher(line);
            Matcher v = VALUE.matcher(line);
            if (r.find()) {
                roots.add(new RootBackup.Root(Long.parseLong(r.group(2)), Long.parseLong(r.group(3)),
                        Integer.parseInt(r.group(4))));
            } else if (v.find()) {
                values[filled++] = Long.parseLong(v.group(2));
                if (filled == 3) {
                    backups.add(new RootBackup(roots.get(0), roots.get(1), roots.get(2), roots.get(3), roots.get(4),
                            roots.get(5), values[0], values[1], values[2]));
                    roots.clear();
                    filled = 0;
                }
            }
        }
        return backups;
    }
}
